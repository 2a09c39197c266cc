"""Abstention: one calibrated decision from three signals.

    p(answerable) = sigmoid(bias + w_retrieval * best fused retrieval score
                                 + w_selector * best window's selector score
                                 + w_none * [the model said no passage answers])

wpqa answers when p >= 0.5. The weights are fitted by logistic regression on the tuning sets
(`python -m bench.ablate`), never on the test set; config.toml holds them. Before the model is
asked, the decision is taken as if it would say yes: when even that is below 0.5, retrieval is
too weak to answer and no generation is spent.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from . import defaults as D


@dataclass(frozen=True)
class Signals:
    retrieval: float  # fused score of the best retrieved chunk
    selector: float  # selector score of the best window
    said_none: bool = False  # the model said no passage answers


@dataclass
class AbstentionModel:
    bias: float = D.ABSTAIN_BIAS
    w_retrieval: float = D.ABSTAIN_W_RETRIEVAL
    w_selector: float = D.ABSTAIN_W_SELECTOR
    w_none: float = D.ABSTAIN_W_NONE
    use_model_choice: bool = True  # off: the model's "none" is not a signal (ablation)

    def p_answerable(self, s: Signals) -> float:
        none = 1.0 if (s.said_none and self.use_model_choice) else 0.0
        x = self.bias + self.w_retrieval * s.retrieval + self.w_selector * s.selector + self.w_none * none
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, x))))

    def answers(self, s: Signals) -> bool:
        return self.p_answerable(s) >= 0.5

    @classmethod
    def fit(cls, rows: list[tuple[Signals, bool]], l2: float = 0.1, steps: int = 4000,
            lr: float = 0.05) -> "AbstentionModel":
        """Logistic regression (gradient descent, L2 on the weights, classes weighted equally) of
        `answerable` on the signals."""
        if not rows:
            return cls()
        xs = [(s.retrieval, s.selector, 1.0 if s.said_none else 0.0) for s, _ in rows]
        ys = [1.0 if y else 0.0 for _, y in rows]
        pos = sum(ys) or 1.0
        neg = (len(ys) - sum(ys)) or 1.0
        cw = [0.5 / pos if y else 0.5 / neg for y in ys]
        b, w = 0.0, [0.0, 0.0, 0.0]
        for _ in range(steps):
            gb, gw = 0.0, [0.0, 0.0, 0.0]
            for x, y, c in zip(xs, ys, cw):
                z = b + sum(wi * xi for wi, xi in zip(w, x))
                p = 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))
                gb += c * (p - y)
                for i in range(3):
                    gw[i] += c * (p - y) * x[i]
            b -= lr * gb
            w = [wi - lr * (gi + l2 * wi) for wi, gi in zip(w, gw)]
        return cls(round(b, 4), round(w[0], 4), round(w[1], 4), round(w[2], 4))
