"""wpqa's application layer: settings, wiring, the `wpqa` command, chat, batch files, evaluation,
and `wpqa.api`, the Python entry point (`from wpqa import open_wpqa`).

`open_wpqa` and `Wpqa` are loaded on first use, so `import wpqa` stays light."""

__all__ = ["open_wpqa", "Wpqa"]


def __getattr__(name: str):
    if name in __all__:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'wpqa' has no attribute {name!r}")
