"""wpqa's application layer: settings, wiring, the `wpqa` command, chat, batch files, evaluation."""
