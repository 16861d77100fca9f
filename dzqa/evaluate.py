"""Quality on a question set: retrieval hit@k/MRR, answers carrying the gold fact, the three outcomes.

Entry points: :func:`load_questions` and :func:`evaluate`. A question file is JSONL; each line is either a
single question ``{"q", "gold": [substring, ...], "type", "expect", "all"}`` or a dialogue
``{"type": "dialogue", "turns": [{"q", "gold", "expect"}, ...]}``. ``expect`` is ``answer`` (the report
states it), ``partial`` (the report covers the topic, not the asked detail; ``gold`` is the related
content an honest reply quotes) or ``refusal``; without it, an empty ``gold`` means ``refusal``. A passage
(or answer) is right when it contains any gold substring (every one with ``"all": true``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from .engine import Engine
from .types import Answer

if TYPE_CHECKING:
    from .answer import RelevanceModel, TopicProbe

MRR_DEPTH = 10
EXPECTS = ("answer", "partial", "refusal")


class QuestionFileError(ValueError):
    """The question file is unreadable or malformed; the message names the file and line."""


@dataclass(frozen=True)
class EvalItem:
    q: str
    gold: tuple[str, ...]
    type: str
    expect: str = "answer"
    all: bool = False
    dialogue: int | None = None  # number of the dialogue this turn belongs to
    turn: int = 0  # 0 for the first turn (and single questions)

    @property
    def in_scope(self) -> bool:
        return self.expect == "answer"

    def contained(self, text: str) -> bool:
        """Whether ``text`` carries the gold fact (any gold substring; all of them for a list)."""
        if not self.gold:
            return False
        return all(g in text for g in self.gold) if self.all else any(g in text for g in self.gold)


@dataclass
class EvalResult:
    item: EvalItem
    rank: int | None  # 1-based rank of the first passage containing gold (None: not in top MRR_DEPTH)
    answer: str
    kind: str
    relevance: float
    answer_has_gold: bool  # an answer (kind answer) carrying the gold fact
    quoted_gold: bool  # an answer or partial quoting the gold (the in-scope "answered" test)
    signals: dict[str, float] = field(default_factory=dict)
    query: str = ""  # what retrieval searched for (the topic probe is fitted on its vector)

    @property
    def found(self) -> bool:
        return self.kind == "answer"

    @property
    def right(self) -> bool:
        """The outcome a user should get: the fact for answer; partial or refusal (never a plain answer) for
        the others, and a partial's quotes are the related content."""
        e = self.item.expect
        if e == "answer":
            return self.answer_has_gold
        return self.kind in ("partial", "refusal", "greeting")


@dataclass
class EvalReport:
    results: list[EvalResult] = field(default_factory=list)

    def metrics(self, results: list[EvalResult] | None = None) -> dict[str, Any]:
        rs = self.results if results is None else results
        ins = [r for r in rs if r.item.expect == "answer"]
        partial = [r for r in rs if r.item.expect == "partial"]
        refuse = [r for r in rs if r.item.expect == "refusal"]
        follow = [r for r in rs if r.item.turn > 0]

        def share(xs: list[bool]) -> float | None:
            return round(sum(xs) / len(xs), 4) if xs else None

        return {
            "questions": len(rs), "in_scope": len(ins), "partial": len(partial), "off_topic": len(refuse),
            "hit@1": share([r.rank == 1 for r in ins]),
            "hit@3": share([r.rank is not None and r.rank <= 3 for r in ins]),
            "mrr": round(sum(1 / r.rank for r in ins if r.rank) / len(ins), 4) if ins else None,
            "answer_has_gold": share([r.answer_has_gold for r in ins]),
            "in_scope_answered": share([r.quoted_gold for r in ins]),
            # hard off-topic: the partial and refusal questions; handled = never a plain answer
            "off_topic_handled": share([r.kind != "answer" for r in partial + refuse]),
            "partial_as_partial": share([r.kind == "partial" for r in partial]),
            "off_topic_refused": share([r.kind != "answer" for r in refuse]),
            "follow_ups": len(follow),
            "follow_up_right": share([r.right for r in follow]),
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
            if r.item.expect == "answer":
                if r.rank != 1:
                    problems.append(f"retrieval rank {r.rank or '>' + str(MRR_DEPTH)}")
                if r.kind == "refusal":
                    problems.append("refused")
                elif r.kind == "partial":
                    problems.append("partial" if r.quoted_gold else "partial without gold")
                elif not r.answer_has_gold:
                    problems.append("answer lacks gold")
            elif r.kind == "answer":
                problems.append(f"{r.item.expect} expected, answered")
            elif r.item.expect == "partial" and r.kind != "partial":
                problems.append("refused (partial expected)")
            if problems:
                out.append({"q": r.item.q, "type": r.item.type, "turn": r.item.turn, "problems": problems,
                            "relevance": round(r.relevance, 4), "answer": r.answer})
        return out


def _item(obj: Any, where: str, *, dialogue: int | None = None, turn: int = 0, kind: str = "") -> EvalItem:
    if not isinstance(obj, dict) or not isinstance(obj.get("q"), str) or not obj["q"].strip():
        raise QuestionFileError(f"{where}: needs a non-empty string \"q\"")
    gold = obj.get("gold", [])
    if not isinstance(gold, list) or not all(isinstance(g, str) and g for g in gold):
        raise QuestionFileError(f"{where}: \"gold\" must be a list of non-empty strings")
    expect = obj.get("expect") or ("answer" if gold else "refusal")
    if expect not in EXPECTS:
        raise QuestionFileError(f"{where}: \"expect\" must be one of {', '.join(EXPECTS)}")
    if expect == "answer" and not gold:
        raise QuestionFileError(f"{where}: an \"answer\" question needs gold substrings")
    return EvalItem(q=obj["q"], gold=tuple(gold), type=str(obj.get("type") or kind or "unknown"), expect=expect,
                    all=bool(obj.get("all")), dialogue=dialogue, turn=turn)


def load_questions(path: Path) -> list[EvalItem]:
    """Every question of the file in order; the turns of a dialogue carry its number and their position."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise QuestionFileError(f"{path}: cannot read question file ({e})") from None
    items: list[EvalItem] = []
    dialogues = 0
    for no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise QuestionFileError(f"{path}:{no}: not JSON ({e.msg})") from None
        if isinstance(obj, dict) and "turns" in obj:
            turns = obj["turns"]
            if not isinstance(turns, list) or not turns:
                raise QuestionFileError(f"{path}:{no}: \"turns\" must be a non-empty list")
            dialogues += 1
            for t, turn in enumerate(turns):
                items.append(_item(turn, f"{path}:{no} turn {t + 1}", dialogue=dialogues, turn=t,
                                   kind="dialogue" if t else "dialogue-start"))
            continue
        items.append(_item(obj, f"{path}:{no}"))
    if not items:
        raise QuestionFileError(f"{path}: has no questions")
    return items


def score(engine: Engine, item: EvalItem, answer: Answer, history: Sequence[str] = ()) -> EvalResult:
    rank = None
    if item.gold:
        hits = engine.search(" ".join([*history[-1:], item.q]) if item.turn else item.q, k=MRR_DEPTH).hits
        rank = next((i for i, h in enumerate(hits, 1) if item.contained(h.passage.text)
                     or any(g in h.passage.text for g in item.gold)), None)
    quoted = "".join(p.text for p in answer.parts)
    has_gold = answer.kind == "answer" and item.contained(quoted)
    quoted_gold = answer.kind in ("answer", "partial") and item.contained(quoted)
    return EvalResult(item, rank, answer.text, answer.kind, answer.relevance, has_gold, quoted_gold,
                      dict(answer.signals), answer.query)


def evaluate(engine: Engine, items: list[EvalItem]) -> EvalReport:
    """Ask every question (a dialogue's turns with the earlier turns as history) and score the outcomes."""
    report = EvalReport()
    history: list[str] = []
    for item in items:
        if item.turn == 0:
            history = []
        ans = engine.ask(item.q, history=list(history))
        report.results.append(score(engine, item, ans, history))
        history.append(item.q)
    return report


#: L2 strength of the relevance fit (on all weights but the bias)
FIT_L2 = 0.3
CV_FOLDS = 5


def _training_rows(report: EvalReport, encode: Callable[[str], Any]) -> tuple[Any, Any, Any]:
    """(retrieval signals, question vectors, labels) of the first turns: a follow-up about the previous answer
    is in scope by construction."""
    import numpy as np

    from .answer import FEATURES

    rows = [r for r in report.results if r.signals and r.item.turn == 0]
    X = np.array([[r.signals.get(f, 0.0) for f in FEATURES] for r in rows], dtype=float)
    V = np.stack([np.asarray(encode(r.query or r.item.q), dtype=float) for r in rows]) if rows else np.zeros((0, 1))
    y = np.array([0.0 if r.item.expect == "refusal" else 1.0 for r in rows])
    return X, V, y


def _logistic(X: Any, y: Any, l2: float = FIT_L2, iterations: int = 100) -> tuple[Any, float]:
    """:func:`_fit_standardised` on z-scored features, the weights turned back to the raw features (so one
    penalty suits features of any spread: the cosine varies over 0.8–0.95, the shares over 0–1)."""
    import numpy as np

    mean, std = X.mean(axis=0), X.std(axis=0)
    std[std == 0] = 1.0
    w, b = _fit_standardised((X - mean) / std, y, l2, iterations)
    return w / std, float(b - np.sum(w * mean / std))


def _fit_standardised(X: Any, y: Any, l2: float, iterations: int) -> tuple[Any, float]:
    """L2-regularised logistic regression by Newton's method, the two classes weighted equally (refusal
    questions are the smaller class; without weights the fit would answer what it should refuse): (weights, bias)."""
    import numpy as np

    pos = max(1.0, float(y.sum()))
    neg = max(1.0, float(len(y) - y.sum()))
    sw = np.where(y == 1, len(y) / (2 * pos), len(y) / (2 * neg))
    A = np.hstack([X, np.ones((len(X), 1))])
    w = np.zeros(A.shape[1])
    penalty = np.diag([l2] * X.shape[1] + [0.0])
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(A @ w, -50, 50)))
        grad = A.T @ (sw * (p - y)) + penalty @ w
        hess = A.T @ (A * (sw * p * (1 - p))[:, None]) + penalty + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-9:
            break
    return w[:-1], float(w[-1])


#: L2 strength of the topic probe (over the 384 dimensions of the question vector, scaled by PROBE_SCALE)
PROBE_L2 = 10.0
PROBE_SCALE = 10.0


def _fit_probe(V: Any, y: Any) -> "TopicProbe":
    """The topic probe: class-balanced, L2-regularised logistic regression on the centred question vectors."""
    from .answer import TopicProbe

    mean = V.mean(axis=0)
    w, b = _fit_standardised((V - mean) * PROBE_SCALE, y, PROBE_L2, 50)
    return TopicProbe(mean.astype("float32"), (w * PROBE_SCALE).astype("float32"), float(b))


def _fit_model(X: Any, V: Any, y: Any, seed: int) -> "RelevanceModel":
    """Probe, logistic weights with its score and plain weights without it (see RelevanceModel). The probe's
    score enters the logistic fit out of fold (as it will on new questions), so the fit does not trust a
    probe that has seen the very question it scores."""
    from .answer import FEATURES, RelevanceModel

    folds = _folds(y, seed)
    X = X.copy()
    col = FEATURES.index("topic")
    for k in range(CV_FOLDS):
        probe = _fit_probe(V[folds != k], y[folds != k])
        X[folds == k, col] = [probe(v) for v in V[folds == k]]
    w, b = _logistic(X, y)
    plain = X.copy()
    plain[:, col] = 0.0
    pw, pb = _logistic(plain, y)
    return RelevanceModel(tuple(map(float, w)), b, probe=_fit_probe(V, y), plain=(tuple(map(float, pw)), pb))


def _with_topic(x: Any, model: "RelevanceModel", vector: Any) -> dict[str, float]:
    """A row of signals as the model reads it, ``topic`` scored by the model's own probe."""
    from .answer import FEATURES

    sig = dict(zip(FEATURES, map(float, x)))
    sig["topic"] = model.probe(vector) if model.probe is not None else 0.0
    return sig


def _folds(y: Any, seed: int) -> Any:
    """Stratified fold numbers."""
    import numpy as np

    rng = np.random.default_rng(seed)
    folds = np.zeros(len(y), dtype=int)
    for label in (0.0, 1.0):
        idx = np.flatnonzero(y == label)
        rng.shuffle(idx)
        folds[idx] = np.arange(len(idx)) % CV_FOLDS
    return folds


def fit_relevance(report: EvalReport, encode: Callable[[str], Any], seed: int = 0) -> dict[str, Any]:
    """Fit the relevance model ("the report covers it": answer or partial vs refusal) and its topic probe on a
    report's signals and question vectors (``encode``: the query encoder), with a stratified k-fold estimate
    of its accuracy on questions the fit never saw (probe and weights refitted in every fold)."""
    import numpy as np

    from .answer import FEATURES

    X, V, y = _training_rows(report, encode)
    if len(set(y.tolist())) < 2:
        raise QuestionFileError("fitting needs both covered questions and refusal questions")
    folds = _folds(y, seed)
    pred = np.zeros(len(y))
    for k in range(CV_FOLDS):
        model = _fit_model(X[folds != k], V[folds != k], y[folds != k], seed + 1)
        pred[folds == k] = [model(_with_topic(x, model, v)) for x, v in zip(X[folds == k], V[folds == k])]
    covered, refused = pred[y == 1] >= 0.5, pred[y == 0] < 0.5
    model = _fit_model(X, V, y, seed + 1)
    assert model.probe is not None and model.plain is not None
    return {"features": list(FEATURES), "weights": [round(x, 4) for x in model.weights],
            "bias": round(model.bias, 4), "questions": int(len(y)),
            "plain": {"weights": [round(x, 4) for x in model.plain[0]], "bias": round(model.plain[1], 4)},
            "probe": model.probe.to_json(),
            "cross_validated": {"folds": CV_FOLDS, "covered_kept": round(float(covered.mean()), 4),
                                "refusals_refused": round(float(refused.mean()), 4)}}
