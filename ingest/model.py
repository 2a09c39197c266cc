"""Plain dataclasses that flow from ingestion into the index."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from common.errors import WpqaError


class IngestError(WpqaError):
    """A file that cannot be ingested; str() is a one-line reason."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass
class Table:
    """A table found on a PDF page (see ingest.tables): rows of cell strings, the first the header."""

    page: int
    rows: list[list[str]]
    caption: str = ""  # the line above the table when it reads like a caption (表1 ... / Table 1 ...)
    anchor: str = ""  # the last text line above the table on its page ("" when the table tops the page)


@dataclass
class Page:
    number: int  # 1-based page number as printed by the reader (PDF page index + 1)
    text: str  # the page's text; the text of its tables is in `tables`, not here
    ocr: bool = False  # the text was read from the page image (no usable text layer)
    tables: list[Table] = field(default_factory=list)


@dataclass
class Document:
    name: str  # file name relative to the corpus folder, e.g. "report.pdf"
    path: str  # absolute path it was read from
    sha256: str  # hash of the file's bytes
    kind: str  # "pdf" | "txt" | "md"
    pages: list[Page]
    title: str = ""

    @property
    def ocr_pages(self) -> list[int]:
        """Pages whose text was read by OCR."""
        return [p.number for p in self.pages if p.ocr]


def page_at(first_page: int, page_breaks: list[tuple[int, int]], offset: int) -> int:
    """The page holding character `offset` of a text that starts on `first_page` and has
    `page_breaks` ((offset, page) where each later page starts, in order)."""
    page = first_page
    for o, p in page_breaks:
        if o > offset:
            break
        page = p
    return page


@dataclass
class Section:
    id: str  # "s0", "s1", ... in document order; s0 is the untitled preamble when present
    level: int  # 0 for the preamble, 1 for top-level headings, 2 below them, ...
    title: str  # the heading line as printed ("" for the preamble)
    path: list[str]  # titles from the top level down to this section
    page_start: int
    page_end: int
    text: str  # cleaned body text (without the heading line)
    offset: int = 0  # character offset of `text` in the document's cleaned text
    page_breaks: list[tuple[int, int]] = field(default_factory=list)  # (offset in text, page) where a page starts
    tables: list[tuple[int, int]] = field(default_factory=list)  # spans of Markdown table blocks in text: one chunk each

    @property
    def path_str(self) -> str:
        return " > ".join(self.path)


@dataclass
class Chunk:
    id: str  # f"{doc_sha256[:12]}-{ordinal:04d}": stable for the same content and settings
    doc: str  # Document.name
    doc_sha256: str
    ordinal: int
    section_id: str
    section_path: list[str]
    page: int  # page where the chunk starts
    page_end: int
    lang: str  # "zh" | "en"
    start: int  # character offsets in the document's cleaned text
    end: int
    text: str
    context: str = ""  # document title, heading path and chapter aliases: embedded with the text
    page_breaks: list[tuple[int, int]] = field(default_factory=list)  # (offset in text, page) where a page starts

    @property
    def section(self) -> str:
        return " > ".join(self.section_path)

    def page_at(self, offset: int) -> int:
        """The page that holds character `offset` of the chunk's text."""
        return page_at(self.page, self.page_breaks, offset)

    def embed_text(self) -> str:
        """Text given to the embedder and the lexical index: where the chunk sits, then its text."""
        return f"{self.context}\n{self.text}" if self.context else self.text

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Chunk":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__})


@dataclass
class IngestedDocument:
    document: Document
    sections: list[Section]
    chunks: list[Chunk]


# Bumped whenever cleaning, sectioning or chunking changes what chunks come out of the same
# file; the index manifest records it, so an index built by older code asks for a rebuild.
# 4: chunks record their page breaks; 5: Snowball English stems (BM25); 6: OCR of scans, tables as
# chunks; 7: OCR repairs (glued English words, misread heading numbers), headings one character
# off their contents entry
INGEST_VERSION = 7


@dataclass(frozen=True)
class ChunkSettings:
    """Chunk size in tokens (jieba words for Chinese, words for English)."""

    max_tokens: int = 200
    overlap_sentences: int = 1  # sentences repeated at the start of the next chunk of the same section
    min_tokens: int = 30  # a trailing piece smaller than this is merged into the previous chunk

    def key(self) -> dict:
        return {**asdict(self), "ingest_version": INGEST_VERSION}
