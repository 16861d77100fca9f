"""What the chat, the desk and the JSON API share: ask-and-log, passage context, the admin check.

No FastAPI or Gradio here, so the pages and the API cannot drift apart on what an answer, a logged
question or an admin is.
"""

from __future__ import annotations

import hmac
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

from ..curated import CuratedError, parse_link
from ..engine import Engine, QuestionError, check_question
from ..feedback import FeedbackStore
from ..settings import Settings
from ..types import Answer, Passage
from .hardening import log_event, note
from .render import reader_href

log = logging.getLogger("dzqa.web")

#: earlier questions a client may send along with a follow-up (only the last one is used)
MAX_HISTORY = 20
#: seconds the chat's opening questions are kept before the question log is read again
OPENING_TTL = 60.0


@dataclass(frozen=True)
class Services:
    """The loaded engine, the feedback database and the settings: built once when the server starts."""

    engine: Engine
    store: FeedbackStore
    settings: Settings
    #: the opening questions and when they were read (see opening_questions)
    _opening: dict[str, tuple[float, list[str]]] = field(default_factory=dict, compare=False, repr=False)

    def ask(self, question: str, history: Sequence[str] = (), *, channel: str, **filters: Any) -> Answer:
        """A cited answer, logged for the desk's statistics (question, kind, cited ids; never who asked);
        ``filters``: ``doc``, ``year``, ``section`` as in :meth:`dzqa.engine.Engine.ask`.

        Raises :class:`dzqa.engine.QuestionError` for an empty or over-long question and
        :class:`dzqa.engine.FilterError` for an unknown filter."""
        t0 = time.perf_counter()
        answer = self.engine.ask(question, history=[h for h in history[-MAX_HISTORY:] if isinstance(h, str)],
                                 **filters)
        ms = (time.perf_counter() - t0) * 1000
        passages = [h.passage.id for h in answer.citations]
        # the request's JSON log line gets what was found; Gradio's queue workers run outside a request
        if not note(found=answer.found, kind=answer.kind, passages=passages):
            log_event(route=f"gradio:{channel}", found=answer.found, kind=answer.kind, passages=passages,
                      latency_ms=round(ms, 2))
        # a failed log write is logged by the store and must not cost the citizen the answer
        self.store.log_question(question, channel=channel, kind=answer.kind, found=answer.found,
                                citations=passages, ms=ms)
        return answer

    def opening_questions(self, fallback: Sequence[str], n: int = 6) -> list[str]:
        """The chat's example questions: the most asked, well rated ones (:meth:`FeedbackStore.popular`),
        topped up from ``fallback``. Read at most once a minute; a database error gives the fallback."""
        cached = self._opening.get("questions")
        if cached is None or time.monotonic() - cached[0] > OPENING_TTL:
            try:
                asks = self.settings.suggest_min_asks
                popular = self.store.popular(limit=n, min_asks=asks) if asks > 0 else []
            except Exception as e:  # the page must open with its examples whatever the database does
                log.warning("popular questions unavailable: %s", e)
                popular = []
            cached = (time.monotonic(), popular)
            self._opening["questions"] = cached
        out = list(cached[1])
        out += [q for q in fallback if q not in out]
        return out[:n]

    def check_history(self, history: Sequence[Any]) -> list[str]:
        """Earlier questions as sent by a client, each held to the same rules as a question."""
        if len(history) > MAX_HISTORY:
            raise QuestionError(f"history 最多 {MAX_HISTORY} 条 (at most {MAX_HISTORY} earlier questions)")
        return [check_question(h, self.settings.max_question_chars) for h in history]

    def section_ids(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.engine.sections())

    def passage_context(self, passage: Passage) -> dict[str, Any]:
        """One passage with what surrounds it: the whole paragraph, its section and the neighbouring passages."""
        c = passage.citation
        paragraph = self.engine.paragraph(c.paragraph_id)
        passages = self.engine.index.passages
        row = self.engine.index.positions[passage.id]

        def neighbour(i: int) -> dict[str, str] | None:
            if 0 <= i < len(passages) and passages[i].citation.doc_id == c.doc_id:
                return {"id": passages[i].id, "section": passages[i].citation.section, "text": passages[i].text}
            return None

        return {"id": passage.id, "doc": c.doc_title, "section": c.section, "text": passage.text,
                "section_id": c.section_id, "paragraph_id": c.paragraph_id, "paragraph_number": c.paragraph_number,
                "start": c.start, "end": c.end, "label": c.label(), "anchor": c.anchor,
                "reader": reader_href(c), "paragraph": paragraph.text if paragraph else passage.text,
                "previous": neighbour(row - 1), "next": neighbour(row + 1)}

    # ---------------------------------------------------------------------------- curated links (admin)
    def review(self, days: int = 30, limit: int = 50) -> list[dict[str, Any]]:
        """The review queue (refused, partial and 👎 questions grouped by wording), questions asked so far included."""
        self.store.flush()
        return self.engine.curated.store.review(days=days, limit=limit)

    def curated_links(self) -> dict[str, Any]:
        source = self.engine.curated
        return {"links": [link.to_json() for link in source.store.links()], "stale": source.stale()}

    def save_link(self, question: Any, passages: Any, *, covered: Any = True, author: Any) -> tuple[dict[str, Any], str]:
        """Link a question to passages (checked by the engine) or mark it not covered; audited under ``author``.
        Raises :class:`dzqa.curated.CuratedError` saying what is wrong."""
        body: dict[str, Any] = {"question": question, "covered": covered}
        if covered is not False:
            body["passages"] = passages
        elif passages:
            body["passages"] = passages  # parse_link refuses passages with covered false
        question, ids = parse_link(body)
        link, action = self.engine.curated.store.save(question, ids, author=author,
                                                      resolve=self.engine.resolve_passages)
        self.engine.curated.refresh(force=True)  # this server answers with it at once
        return link.to_json(), action

    def delete_link(self, question: Any, *, author: Any) -> bool:
        if not isinstance(question, str):
            raise CuratedError("question is required")
        deleted = self.engine.curated.store.delete(question, author=author)
        self.engine.curated.refresh(force=True)
        return deleted

    def admin_allowed(self, presented: str | None) -> bool:
        return admin_allowed(self.settings, presented)

    def api_key_allowed(self, presented: str | None) -> bool:
        return api_key_allowed(self.settings, presented)


def admin_allowed(settings: Settings, presented: str | None) -> bool:
    """The one check guarding statistics and exports: the admin token, and closed when none is configured
    (``dzqa serve`` generates one when DZQA_ADMIN_TOKEN is unset)."""
    if not settings.admin_token or not isinstance(presented, str):
        return False
    return presented is not None and hmac.compare_digest(presented.encode(), settings.admin_token.encode())


def bearer_token(authorization: str | None) -> str | None:
    """'Bearer abc' → 'abc' (the scheme in any case); None without one."""
    auth = authorization or ""
    return auth[7:].strip() if auth[:7].lower() == "bearer " else None


def api_key_allowed(settings: Settings, presented: str | None) -> bool:
    """The check guarding /v1/* and /api/ask, /api/search: open when DZQA_API_KEYS is unset, else one of
    its keys, compared in constant time with every key (no early exit reveals which one came close)."""
    keys = settings.api_key_list
    if not keys:
        return True
    if not isinstance(presented, str) or not presented:
        return False
    given = presented.encode()
    ok = False
    for key in keys:
        ok |= hmac.compare_digest(given, key.encode())
    return ok
