"""The base of every error wpqa raises on purpose.

A `WpqaError` is a user's problem (a bad file, a bad setting, an index to rebuild) with a
one-line message naming the file or setting and the reason. The `wpqa` command catches it, with
`OSError`, in one place (`wpqa.cli.WpqaApp`), prints `one_line(e)` on stderr and exits 1; the chat
prints the same line and goes on with the next question. Anything else is a bug and keeps its
traceback.
"""


class WpqaError(Exception):
    """An expected failure with a one-line message for the user."""


def one_line(e: BaseException) -> str:
    """The message for the user: `path: reason` for an OSError about a file, else str(e), on one line."""
    if isinstance(e, OSError) and e.filename is not None:
        names = str(e.filename) + (f" -> {e.filename2}" if e.filename2 is not None else "")
        msg = f"{names}: {e.strerror or e}"
    elif isinstance(e, OSError) and e.strerror:
        msg = e.strerror
    else:
        msg = str(e)
    return " ".join(msg.split()) or type(e).__name__
