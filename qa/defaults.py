"""Defaults of the question-answering layer, importable without loading LangChain or the index:
`AnswerConfig`, `FusionParams` and the settings model (wpqa/settings.py) all refer to them."""

TOP_K = 5  # chunks returned per question (the contexts of a record)
CANDIDATES = 40  # taken from each list (dense and lexical, per language) before fusion
MAX_EVIDENCE = 5  # passages the answer's sentences are picked from (and rechecked in)
EVIDENCE_CHARS = 200  # characters of evidence per passage (a Chinese character counts as two)
# Abstain below this fused score of the best passage; calibrated on the dev set (see config.toml).
ABSTAIN_THRESHOLD = 2.0
# The model's NOT_FOUND abstains only below this fused score of the best passage; at or above it
# the answer stands on the picked sentences (flagged). Off (inf): see config.toml and docs/answers.md.
KEEP_ABOVE = float("inf")
# The sentence selector (qa/select.py): windows of whole sentences around the best-matching ones.
WINDOW_BEFORE = 0  # sentences a window takes before its anchor sentence ...
WINDOW_AFTER = 1  # ... and after it,
WINDOW_CHARS = 360  # while it fits in this many characters (a Chinese character counts as two)
CORE_CHARS = 220  # the part of a window the model is asked about: the anchor and what follows it
LEXICAL_WEIGHT = 0.1  # IDF-weighted word overlap, next to the e5 cosine
MAX_TOKENS = 200  # tokens the model may generate for one answer
# How the answer body is written (measured on the dev set: see docs/answers.md):
# a question in the language of the sentences that answer it gets those sentences ("sentences",
# the model only confirms they answer) or a model-written lead over them ("lead"); a question in
# the other language gets the sentences translated ("translate") or a lead written from them ("lead").
SAME_LANGUAGE = "sentences"
CROSS_LINGUAL = "translate"
