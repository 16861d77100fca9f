"""Issue 12.6, the store side: personal numbers are masked before a question or feedback is stored (the
answer is computed from what was typed), and rows older than DZQA_RETENTION_DAYS are deleted by the server."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from conftest import db_rows
from dzqa.feedback import Feedback, FeedbackStore, now
from dzqa.privacy import ID_CARD, LANDLINE, MOBILE, mask
from dzqa.web.server import create_app, enforce_retention
from web_support import LiveServer


@pytest.mark.parametrize("text, expected", [
    ("我的身份证号37140219800101123X能办吗", f"我的身份证号{ID_CARD}能办吗"),
    ("身份证 371402198001011234。", f"身份证 {ID_CARD}。"),
    ("电话13812345678", f"电话{MOBILE}"),
    ("打 138-1234-5678 或 +86 139 1234 5678", f"打 {MOBILE} 或 {MOBILE}"),
    ("全角１３８１２３４５６７８", f"全角{MOBILE}"),
    ("座机0534-1234567找谁", f"座机{LANDLINE}找谁"),
    ("（0534）12345678", LANDLINE),
    ("05342345678", LANDLINE),
])
def test_masks_id_cards_mobiles_and_landlines(text: str, expected: str) -> None:
    assert mask(text) == expected and mask(expected) == expected


@pytest.mark.parametrize("text", ["今年地区生产总值增长6%以上", "新建扩建公办幼儿园38所,新增学位9980个", "投资130.16亿元",
                                  "2021年", "12345热线", "编号1234567890123456789012", "12345678901"])
def test_leaves_the_report_s_numbers_alone(text: str) -> None:
    assert mask(text) == text


QUESTION = "我身份证37140219800101123X，电话13812345678，今年要新建多少所公办幼儿园？"


def test_questions_and_feedback_are_stored_masked_and_the_answer_is_unchanged(make_client, engine) -> None:
    c = make_client(admin_token="s3cret")
    r = c.post("/api/ask", json={"question": QUESTION})
    assert r.status_code == 200 and r.json()["answer"] == engine.ask(QUESTION).to_json()["answer"] and r.json()["found"]
    r = c.post("/api/feedback", json={"question": QUESTION, "answer": "…", "citations": [], "rating": "down",
                                      "reason": "其他"})
    assert r.status_code == 201
    [(asked,)] = db_rows(c, "SELECT question FROM questions")
    [(rated,)] = db_rows(c, "SELECT question FROM feedback")
    assert asked == rated == f"我身份证{ID_CARD}，电话{MOBILE}，今年要新建多少所公办幼儿园？"
    export = c.get("/api/export/questions.csv", headers={"Authorization": "Bearer s3cret"}).text
    assert "13812345678" not in export and "37140219800101123X" not in export


def _old_and_new_rows(db: Path) -> None:
    store = FeedbackStore(db)
    store.log_question("新的问题", channel="chat", kind="answer", found=True)
    store.save_feedback(Feedback(question="新的反馈", answer="a", citations=(), rating="up"))
    store.close()
    old = (now() - timedelta(days=200)).isoformat(timespec="seconds")
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO questions (asked_at, day, channel, question, qkey, kind, found, citations) "
                     "VALUES (?, ?, 'chat', '旧的问题', '旧的问题', 'answer', 1, '[]')", (old, old[:10]))
        conn.execute("INSERT INTO feedback (created_at, updated_at, channel, question, answer, citations, rating) "
                     "VALUES (?, ?, 'chat', '旧的反馈', 'a', '[]', 'up')", (old, old))


def _texts(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {q for (q,) in conn.execute("SELECT question FROM questions UNION ALL SELECT question FROM feedback")}


def test_the_server_deletes_what_is_older_than_the_retention_at_start(engine, settings, tmp_path: Path) -> None:
    db = tmp_path / "fb.sqlite3"
    _old_and_new_rows(db)
    assert _texts(db) == {"新的问题", "新的反馈", "旧的问题", "旧的反馈"}
    with LiveServer(create_app(engine, settings.replace(feedback_db=db))) as live:  # default: 180 days
        assert httpx.get(live.url + "/healthz").status_code == 200
        deadline = time.monotonic() + 10
        while _texts(db) != {"新的问题", "新的反馈"} and time.monotonic() < deadline:
            time.sleep(0.1)
    assert _texts(db) == {"新的问题", "新的反馈"}


def test_retention_runs_again_periodically_and_zero_keeps_everything(tmp_path: Path) -> None:
    db = tmp_path / "fb.sqlite3"
    _old_and_new_rows(db)
    store = FeedbackStore(db)

    async def run() -> None:
        task = asyncio.create_task(enforce_retention(store, 180, interval=0.2))
        await asyncio.sleep(0.3)
        assert _texts(db) == {"新的问题", "新的反馈"}
        _old_and_new_rows(db)  # old rows again, after the first run
        await asyncio.sleep(0.5)
        task.cancel()

    asyncio.run(run())
    assert _texts(db) == {"新的问题", "新的反馈"}
    _old_and_new_rows(db)
    assert store.purge(0) == 0 and "旧的问题" in _texts(db)
    assert store.purge(180) == 2
    store.close()
