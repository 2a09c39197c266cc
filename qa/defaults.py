"""Defaults of the question-answering layer, importable without loading LangChain or the index:
`AnswerConfig`, `FusionParams` and the settings model (wpqa/settings.py) all refer to them."""

TOP_K = 5  # chunks returned per question (the contexts of a record)
CANDIDATES = 40  # taken from each list (dense and lexical, per language) before fusion
MAX_EVIDENCE = 5  # passages the answer's sentences are picked from (and rechecked in)
EVIDENCE_CHARS = 200  # characters of evidence per passage (a Chinese character counts as two)
# Abstain below this fused score of the best passage; calibrated on the dev set (see config.toml).
ABSTAIN_THRESHOLD = 2.0
MAX_TOKENS = 200  # tokens the model may generate for one answer
# How the answer body is written (measured on the dev set: see docs/answers.md):
# a question in the language of the sentences that answer it gets those sentences ("sentences",
# the model only confirms they answer) or a model-written lead over them ("lead"); a question in
# the other language gets the sentences translated ("translate") or a lead written from them ("lead").
SAME_LANGUAGE = "sentences"
CROSS_LINGUAL = "translate"
