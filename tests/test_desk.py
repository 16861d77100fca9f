"""The hotline desk says plainly when nothing matches well (issue 12, point 11)."""

from __future__ import annotations

from pathlib import Path

from dzqa.engine import Engine
from dzqa.feedback import FeedbackStore
from dzqa.web.desk import LOW_CONFIDENCE, DeskLogic
from dzqa.web.render import esc
from dzqa.web.service import Services


def test_desk_warns_when_nothing_matches_well(engine: Engine, tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "f.sqlite3")
    try:
        desk = DeskLogic(Services(engine=engine, store=store, settings=engine.settings))
        weak = desk.search("德州明天天气怎么样", None, 5)
        assert esc(LOW_CONFIDENCE) in weak and "dz-hit" in weak  # the notice first, the nearest paragraphs below
        strong = desk.search("公办幼儿园", None, 5)
        assert esc(LOW_CONFIDENCE) not in strong and "新建扩建公办幼儿园38所" in strong
    finally:
        store.close()


def test_search_result_carries_the_relevance_decision(engine: Engine) -> None:
    assert engine.search("今年要新建多少所公办幼儿园？").confident
    assert not engine.search("周杰伦最近出新歌了吗").confident
