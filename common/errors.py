"""The base of every error wpqa raises on purpose.

A `WpqaError` is a user's problem (a bad file, a bad setting, an index to rebuild) with a
one-line message naming the file or setting and the reason; the CLI prints it and exits 1.
Anything else is a bug and keeps its traceback.
"""


class WpqaError(Exception):
    """An expected failure with a one-line message for the user."""
