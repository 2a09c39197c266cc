"""Follow-up questions: a question that leans on the conversation ("what about its members?")
is rewritten by the answer model as a standalone question before it is searched."""
from __future__ import annotations

import re

from ingest.text import detect_lang

from .answer import generate

_FOLLOW_EN = re.compile(r"\b(it|its|they|them|their|this|that|these|those|he|she|his|her|there|what about|how about|"
                        r"and|also|why|same)\b", re.I)
_FOLLOW_ZH = re.compile(r"(它|它们|其|这|那|该|此|上述|他们|她们|还有|为什么|呢)")


def looks_like_follow_up(question: str) -> bool:
    if detect_lang(question) == "zh":
        return bool(_FOLLOW_ZH.search(question)) or len(question) <= 8
    words = question.split()
    return bool(_FOLLOW_EN.search(question)) or len(words) <= 4


def rewrite_follow_up_checked(llm, history: list[tuple[str, str]], question: str) -> tuple[str, bool]:
    """The standalone question, and whether the model's rewrite failed (the previous question
    and the follow-up are then searched together, and the record says so)."""
    if not history or not looks_like_follow_up(question):
        return question, False
    lang = detect_lang(question)
    last_q, last_a = history[-1]
    if llm is None:
        return f"{last_q} {question}", False
    lang_name = "Chinese" if lang == "zh" else "English"
    prev_answer = re.sub(r"\s+", " ", last_a.split("\n\n> ")[0])[:300]
    messages = [
        {"role": "system", "content": "Rewrite the follow-up question so that it can be understood without the "
                                      f"conversation. Keep its meaning. Write it in {lang_name}. Output only the question."},
        {"role": "user", "content": f"Previous question: {last_q}\nPrevious answer: {prev_answer}\n"
                                    f"Follow-up question: {question}\nStandalone question:"},
    ]
    try:
        out = generate(llm, messages, 80).strip().strip('"“”')
    except Exception:  # noqa: BLE001 - fall back to the plain concatenation, flagged
        out = ""
    out = out.splitlines()[0].strip() if out else ""
    if not out or detect_lang(out) != lang:
        return f"{last_q} {question}", True
    return out, False
