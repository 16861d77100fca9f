"""The server on a real PostgreSQL server (DZQA_DATABASE_URL): replicas share the question log, feedback,
curated links and rate limits; a database that is down gives a clear 503 on writes while answers go on."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from dzqa.engine import Engine
from dzqa.settings import Settings
from dzqa.web.server import create_app

ASK = {"question": "今年要新建多少所公办幼儿园？"}
RATE = {"question": "q", "answer": "a", "citations": [], "rating": "up"}


def replica(engine: Engine, settings: Settings, url: str, **changes: Any) -> TestClient:
    """One server process as a replica would run it: its own app, engine view and pools, one database."""
    return TestClient(create_app(engine, settings.replace(database_url=url, **changes)))


def test_two_replicas_share_one_rate_limit(engine: Engine, settings: Settings, pg_url: str) -> None:
    a, b = (replica(engine, settings, pg_url, rate_limit=6) for _ in range(2))
    codes = [(a if i % 2 else b).get("/api/search", params={"q": "幼儿园"}).status_code for i in range(12)]
    assert codes.count(200) == 6 and codes.count(429) == 6  # not 6 per replica
    assert codes[:6] == [200] * 6
    rows = a.app.state.services.store.db.query("SELECT key, granted FROM rate_buckets")
    assert len(rows) == 1 and "testclient" not in rows[0][0]  # one bucket, keyed by a pseudonym


def test_replicas_share_feedback_questions_and_curated_links(engine: Engine, settings: Settings, pg_url: str) -> None:
    a, b = (replica(engine, settings, pg_url, admin_token="t0ken") for _ in range(2))
    b.app.state.services.engine.curated.check_seconds = 0.0
    assert a.post("/api/ask", json=ASK).json()["found"]
    assert a.post("/api/feedback", json={**RATE, "rating": "down", "reason": "其他"}).json()["saved"]
    a.app.state.services.store.flush()
    stats = b.get("/api/stats", headers={"Authorization": "Bearer t0ken"}).json()
    assert stats["total_questions"] == 1 and dict(stats["ratings"]) == {"down": 1}
    question = "德州有没有地铁规划？"
    assert b.post("/api/ask", json={"question": question}).json()["source"] == "retrieval"
    r = a.post("/api/curated", json={"question": question, "passages": ["2021/s3/p2"], "author": "王芳"},
               headers={"Authorization": "Bearer t0ken"})
    assert r.status_code == 201, r.text
    assert b.post("/api/ask", json={"question": question}).json()["source"] == "curated"  # the other replica


def test_a_database_that_is_down_gives_503_on_writes_while_answers_go_on(engine: Engine, settings: Settings,
                                                                       pg_server: Any, pg_url: str) -> None:
    c = replica(engine, settings, pg_url, rate_limit=100)
    assert c.post("/api/feedback", json=RATE).status_code == 201
    pg_server.stop()
    try:
        r = c.post("/api/ask", json=ASK)
        assert r.status_code == 200 and r.json()["found"]  # answers never need the database
        r = c.post("/api/feedback", json=RATE)
        assert r.status_code == 503 and r.json()["saved"] is False and r.headers["retry-after"]
        assert c.get("/healthz").json()["feedback_db"] == "unavailable"
        assert c.get("/").status_code == 200  # the chat page opens (its examples fall back to the fixed ones)
    finally:
        pg_server.start()
    assert c.post("/api/feedback", json=RATE).status_code == 201  # back without a restart of dzqa
    assert c.get("/healthz").json()["feedback_db"] == "ok"


@pytest.mark.parametrize("path", ["/api/stats", "/api/curated"])
def test_admin_reads_say_503_when_the_database_is_down(engine: Engine, settings: Settings, pg_server: Any,
                                                      pg_url: str, path: str) -> None:
    c = replica(engine, settings, pg_url, admin_token="t0ken")
    pg_server.stop()
    try:
        r = c.get(path, headers={"Authorization": "Bearer t0ken"})
        assert r.status_code == 503 and "unavailable" in r.json()["error"]
    finally:
        pg_server.start()
