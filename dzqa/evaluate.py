"""Quality on a question set: retrieval hit@1/hit@3/MRR, answers containing the gold fact, refusals.

Entry points: :func:`load_questions` and :func:`evaluate`. A question file is JSONL of
``{"q": str, "gold": [substring, ...], "type": str}``; an empty ``gold`` marks an off-topic question the
report does not cover. A passage (or answer) is right when it contains any of the gold substrings.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .engine import Engine

MRR_DEPTH = 10


class QuestionFileError(ValueError):
    """The question file is unreadable or malformed; the message names the file and line."""


@dataclass(frozen=True)
class EvalItem:
    q: str
    gold: tuple[str, ...]
    type: str

    @property
    def in_scope(self) -> bool:
        return bool(self.gold)


@dataclass
class EvalResult:
    item: EvalItem
    rank: int | None  # 1-based rank of the first passage containing gold (None: not in top MRR_DEPTH)
    answer: str
    found: bool
    relevance: float
    answer_has_gold: bool
    signals: dict[str, float] = field(default_factory=dict)


@dataclass
class EvalReport:
    results: list[EvalResult] = field(default_factory=list)

    def _in(self) -> list[EvalResult]:
        return [r for r in self.results if r.item.in_scope]

    def _off(self) -> list[EvalResult]:
        return [r for r in self.results if not r.item.in_scope]

    def metrics(self, results: list[EvalResult] | None = None) -> dict[str, Any]:
        rs = self.results if results is None else results
        ins = [r for r in rs if r.item.in_scope]
        off = [r for r in rs if not r.item.in_scope]

        def share(xs: list[bool]) -> float | None:
            return round(sum(xs) / len(xs), 4) if xs else None

        return {
            "questions": len(rs), "in_scope": len(ins), "off_topic": len(off),
            "hit@1": share([r.rank == 1 for r in ins]),
            "hit@3": share([r.rank is not None and r.rank <= 3 for r in ins]),
            "mrr": round(sum(1 / r.rank for r in ins if r.rank) / len(ins), 4) if ins else None,
            "answer_has_gold": share([r.answer_has_gold for r in ins]),
            "in_scope_answered": share([r.found for r in ins]),
            "off_topic_refused": share([not r.found for r in off]),
        }

    def by_type(self) -> dict[str, dict[str, Any]]:
        groups: dict[str, list[EvalResult]] = defaultdict(list)
        for r in self.results:
            groups[r.item.type].append(r)
        return {t: self.metrics(rs) for t, rs in sorted(groups.items())}

    def misses(self) -> list[dict[str, Any]]:
        out = []
        for r in self.results:
            problems = []
            if r.item.in_scope:
                if r.rank != 1:
                    problems.append(f"retrieval rank {r.rank or '>' + str(MRR_DEPTH)}")
                if not r.found:
                    problems.append("refused")
                elif not r.answer_has_gold:
                    problems.append("answer lacks gold")
            elif r.found:
                problems.append("off-topic answered")
            if problems:
                out.append({"q": r.item.q, "type": r.item.type, "problems": problems,
                            "relevance": round(r.relevance, 4), "answer": r.answer})
        return out

    def threshold_sweep(self) -> list[tuple[float, float, float]]:
        """(threshold, in-scope answered, off-topic refused) over the observed relevances."""
        ins = [r.relevance for r in self._in()]
        off = [r.relevance for r in self._off()]
        points = sorted(set(round(x, 3) for x in ins + off))
        out = []
        for t in points:
            answered = sum(x >= t for x in ins) / len(ins) if ins else 0.0
            refused = sum(x < t for x in off) / len(off) if off else 0.0
            out.append((t, answered, refused))
        return out


#: L2 strength of the relevance fit (on all weights but the bias); the dense cosine is scaled by 10 so
#: that one penalty suits features of similar spread
FIT_L2, DENSE_SCALE = 0.1, 10.0


def fit_relevance(report: EvalReport, iterations: int = 50) -> tuple[float, float, float, float]:
    """Logistic regression of "in scope" on the answers' relevance signals (Newton's method).

    Returns weights for DZQA_RELEVANCE_WEIGHTS: dense, coverage, chinese, bias."""
    import numpy as np

    rows = [r for r in report.results if r.signals]
    if len({r.item.in_scope for r in rows}) < 2:
        raise QuestionFileError("calibration needs both in-scope and off-topic questions")
    X = np.array([[DENSE_SCALE * r.signals["dense"], r.signals["coverage"] * r.signals["cjk"],
                   r.signals["cjk"], 1.0] for r in rows])
    y = np.array([1.0 if r.item.in_scope else 0.0 for r in rows])
    w = np.zeros(4)
    penalty = np.diag([FIT_L2, FIT_L2, FIT_L2, 0.0])
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-X @ w))
        grad = X.T @ (p - y) + penalty @ w
        hess = X.T @ (X * (p * (1 - p))[:, None]) + penalty + 1e-9 * np.eye(4)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return (round(float(w[0]) * DENSE_SCALE, 2), round(float(w[1]), 2), round(float(w[2]), 2),
            round(float(w[3]), 2))


def load_questions(path: Path) -> list[EvalItem]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise QuestionFileError(f"{path}: cannot read question file ({e})") from None
    items = []
    for no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise QuestionFileError(f"{path}:{no}: not JSON ({e.msg})") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("q"), str) or not obj["q"].strip():
            raise QuestionFileError(f"{path}:{no}: needs a non-empty string \"q\"")
        gold = obj.get("gold", [])
        if not isinstance(gold, list) or not all(isinstance(g, str) and g for g in gold):
            raise QuestionFileError(f"{path}:{no}: \"gold\" must be a list of non-empty strings")
        items.append(EvalItem(q=obj["q"], gold=tuple(gold), type=str(obj.get("type", "unknown"))))
    if not items:
        raise QuestionFileError(f"{path}: has no questions")
    return items


def evaluate(engine: Engine, items: list[EvalItem]) -> EvalReport:
    report = EvalReport()
    for item in items:
        rank = None
        if item.in_scope:
            hits = engine.search(item.q, k=MRR_DEPTH).hits
            rank = next((i for i, h in enumerate(hits, 1) if any(g in h.passage.text for g in item.gold)), None)
        ans = engine.ask(item.q)
        has_gold = ans.found and any(g in ans.text for g in item.gold)
        report.results.append(EvalResult(item, rank, ans.text, ans.found, ans.relevance, has_gold,
                                         dict(ans.signals)))
    return report
