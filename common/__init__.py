"""Pieces every layer may import (it imports nothing of wpqa's own): the error base."""
