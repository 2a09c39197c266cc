"""The answer chain as LCEL with typed steps: Ask -> Retrieved -> Grounded -> events.

    retrieve (WpqaRetriever)  ->  ground (evidence, abstention, structure)  ->  answer (events)

The last step is a generator: `chain.stream(Ask(...))` yields `Sources` as soon as the checked
source quotes are known, then `Draft` pieces of the lead as the model writes them, then one
`Answered` with the checked record. `QAPipeline.ask` consumes the same stream.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .evidence import Evidence
from .lead import Pick
from .retrieve import Hit
from .structure import Outline


@dataclass
class Ask:
    question: str
    k: int = 0  # contexts to return (0: the configured top_k)
    qid: str | None = None


@dataclass
class Retrieved:
    ask: Ask
    lang: str
    translation: str | None
    hits: list[Hit]
    timings: dict[str, float] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)


@dataclass
class Grounded:
    retrieved: Retrieved
    evidence: list[Evidence]
    picks: list[Pick]  # the sentences the answer rests on (empty for a structure answer)
    outline: Outline | None  # set for a structure question answered from the heading tree
    abstain: bool
    best_score: float
    timings: dict[str, float] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    outline_title: bool = False  # the question asks for the outline's title (not its parts)
    alternatives: list[Pick] = field(default_factory=list)  # rechecked when the model finds no answer in picks[0]


# ---------------------------------------------------------------- stream events


@dataclass
class Sources:
    """The checked quotes the answer will rest on, known before generation starts."""

    quotes: list[dict]  # citation dicts (n, doc, section, page, chunk_id, quote)
    lang: str


@dataclass
class Draft:
    """A piece of the lead as the model writes it (shown, then replaced by the checked answer)."""

    text: str


@dataclass
class Answered:
    record: dict  # the batch record
