"""The errors the answer-model layer raises on purpose (one-line messages, caught by the CLI)."""
from __future__ import annotations

from common.errors import WpqaError


class ModelError(WpqaError):
    """The model file is missing, incomplete or does not match its checksum."""


class LLMError(WpqaError):
    """A language-model backend failed (load error, connection, HTTP status, bad reply)."""
