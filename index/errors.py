"""The index's errors: each a `WpqaError` whose message is one line for the user."""
from __future__ import annotations

from common.errors import WpqaError


class IndexStoreError(WpqaError):
    """A problem with the index directory or its vector store."""


class IndexMissing(IndexStoreError):
    """No index yet, or the live one cannot be opened."""


class IndexMismatch(IndexStoreError):
    """The index was built with other settings (model, chunking, vector store): rebuild it."""


class IndexBusy(IndexStoreError):
    """Another process holds the index lock (or the Milvus Lite file)."""


class IndexDamaged(IndexStoreError):
    """A file of the index directory holds what no wpqa build writes."""


class IngestFailed(IndexStoreError):
    """Reading a corpus file failed for a reason other than the file (a bug, a bad setting)."""
