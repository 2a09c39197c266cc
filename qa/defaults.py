"""Defaults of the question-answering layer, importable without loading LangChain or the index:
`AnswerConfig`, `FusionParams` and the settings model (wpqa/settings.py) all refer to them."""

TOP_K = 5  # chunks returned per question (the contexts of a record)
CANDIDATES = 40  # taken from each list (dense and lexical, per language) before fusion
MAX_EVIDENCE = 5  # top hits whose sentences the selector reads
MAX_TOKENS = 120  # tokens the model may generate for one answer (one or two sentences)
# The sentence selector (qa/select.py): windows of whole sentences around the best-matching ones.
WINDOW_BEFORE = 1  # sentences a window takes before its anchor sentence ...
WINDOW_AFTER = 1  # ... and after it,
WINDOW_CHARS = 360  # while it fits in this many characters (a Chinese character counts as two)
LEXICAL_WEIGHT = 0.1  # IDF-weighted word overlap, next to the e5 cosine
CHOICES = 2  # windows the model is shown to choose from (bench/selector.py: a third adds little)
# Abstention (qa/decide.py): logistic weights over (retrieval score, selector score, model said
# none), fitted on the tuning sets by bench/calibrate.py.
ABSTAIN_BIAS = -4.0
ABSTAIN_W_RETRIEVAL = 2.0
ABSTAIN_W_SELECTOR = 0.0
ABSTAIN_W_NONE = -6.0
