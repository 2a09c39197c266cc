"""Every prompt the answer layer sends to the model, each with a fixed system part (and worked
example) so llama.cpp keeps it evaluated between questions (`llm.prefix_states`)."""
from __future__ import annotations

NONE = "0"  # what the model writes when no passage answers

# One worked example per language teaches the reply's form ("2: answer") better than words.
_CHOOSE = {
    "en": ("You answer questions about policy reports from numbered passages. Reply with the number of the "
           "passage that answers the question, a colon, then the answer: one or two short sentences in English "
           "that state it with the passage's facts (keep names, figures and units). Do not copy the whole passage. "
           "Write only English. If no passage answers the question, reply 0.",
           "[1] 报告指出，数据跨境流动规则的分歧正在扩大。\n"
           "[2] The Forum brought together 120 delegates from 40 countries to discuss spectrum policy.\n"
           "Question: How many countries sent delegates to the Forum?",
           "2: Delegates from 40 countries (120 in all) attended the Forum."),
    "zh": ("根据编号的段落回答关于政策报告的问题。先写回答问题的段落编号和冒号，再用简体中文写一到两句简短的话"
           "直接回答，保留段落中的名称、数字和单位，不要照抄整段，只写中文。如果没有段落回答这个问题，只写0。",
           "[1] The report notes that rules on cross-border data flows are diverging.\n"
           "[2] 论坛汇集了来自40个国家的120名代表，讨论频谱政策。\n"
           "问题：有多少个国家派代表参加了论坛？",
           "2: 共有40个国家的120名代表参加了论坛。"),
}


def choose_messages(question: str, lang: str, passages: list[str]) -> list[dict]:
    """The question and the numbered passages: the model answers "k: answer", or 0."""
    system, ex_in, ex_out = _CHOOSE[lang]
    label = "Question" if lang == "en" else "问题"
    numbered = "\n".join(f"[{i}] {p}" for i, p in enumerate(passages, 1))
    colon = ": " if lang == "en" else "："
    return [{"role": "system", "content": system},
            {"role": "user", "content": ex_in},
            {"role": "assistant", "content": ex_out},
            {"role": "user", "content": f"{numbered}\n{label}{colon}{question}"}]


_ANSWER = {
    "en": "Answer the question from the quoted passage in one or two short sentences in English. State the answer "
          "with the passage's facts (keep names, figures and units); do not copy the whole passage. Write only English.",
    "zh": "根据引用的段落，用简体中文写一到两句简短的话回答问题。直接说出答案，保留段落中的名称、数字和单位，"
          "不要照抄整段，只写中文。",
}

RETRY_NOTE = {
    "mixed-language": {"en": " (write English only)", "zh": "（只用简体中文）"},
    "figure-not-in-source": {"en": " (use only the figures in the passage)", "zh": "（只用段落中的数字）"},
    "bare-figure": {"en": " (one complete sentence that says what the figure counts, with its unit)",
                    "zh": "（用一句完整的话，写出数字指什么，带上单位）"},
    "copies-passage": {"en": " (answer in your own short sentence)", "zh": "（用自己的一句话简短回答）"},
}


def answer_messages(question: str, lang: str, passage: str, problems: list[str] = ()) -> list[dict]:
    """One passage the answer rests on: the model writes the body (no way out: the decision that
    the passage answers is already made)."""
    label = ("Passage", "Question", "Answer") if lang == "en" else ("段落", "问题", "回答")
    colon = ": " if lang == "en" else "："
    note = "".join(RETRY_NOTE[p][lang] for p in problems if p in RETRY_NOTE)
    return [{"role": "system", "content": _ANSWER[lang]},
            {"role": "user", "content": f"{label[0]}{colon}{passage}\n{label[1]}{colon}{question}{note}\n{label[2]}{colon}"}]


def translation_messages(text: str, target: str) -> list[dict]:
    """A text (a heading, a list of titles) translated into the question's language."""
    source, into = ("Chinese", "English") if target == "en" else ("English", "Chinese")
    return [{"role": "system", "content": f"Translate the user's text from {source} into {into}. "
                                          "Keep every name and figure. Output only the translation."},
            {"role": "user", "content": text}]


# One worked example keeps the model giving the term alone.
_TERM_EXAMPLE = ("跨境数据流动", "cross-border data flows")


def term_messages(term: str) -> list[dict]:
    """A Chinese term the model left in an English answer, asked alone."""
    return [{"role": "system", "content": "Translate the Chinese term into English. Output only the English term."},
            {"role": "user", "content": _TERM_EXAMPLE[0]},
            {"role": "assistant", "content": _TERM_EXAMPLE[1]},
            {"role": "user", "content": term}]
