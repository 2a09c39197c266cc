"""Files -> documents -> sections -> chunks."""
