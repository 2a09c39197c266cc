"""OCR results kept on disk by page-image hash (see ingest.ocr.image_key): one small JSON file
per page, so `wpqa index --rebuild` (or a renamed or re-saved scan) never OCRs a page twice.

The build keeps it in the index folder (`<index>/cache/ocr/`) next to the embedding cache and
hands it to ingest; a damaged or unreadable entry is treated as missing (it only saves time).
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from .ocr import OcrPage


class OcrCache:
    def __init__(self, folder: Path | str):
        self.folder = Path(folder)
        self.hits = 0
        self.misses = 0

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> OcrPage | None:
        try:
            page = OcrPage.from_dict(json.loads(self._path(key).read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError):
            self.misses += 1
            return None
        self.hits += 1
        return page

    def put(self, key: str, page: OcrPage) -> None:
        """Keep a result; a folder that refuses the write only costs the next run the OCR time."""
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(page.to_dict(), fh, ensure_ascii=False)
            os.replace(tmp, path)
        except OSError:
            pass
