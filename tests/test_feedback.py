"""The feedback database on SQLite and on a real PostgreSQL server: no lost rows under many threads,
upserts, honest failures (locked, full, unreachable, restarted mid-load), stats and CSV; WAL on SQLite."""

from __future__ import annotations

import csv
import io
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from dzqa.feedback import Feedback, FeedbackStore, parse_rating


def fb(**kw: object) -> Feedback:
    values: dict = {"question": "今年要新建多少所公办幼儿园？", "answer": "新建扩建公办幼儿园38所[1]",
                    "citations": ("2021/s6/p2",), "rating": "up"}
    values.update(kw)
    return Feedback(**values)  # type: ignore[arg-type]


def test_wal_mode_and_schema(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "sub" / "fb.sqlite3")
    assert store.save_feedback(fb()) == 1
    conn = sqlite3.connect(tmp_path / "sub" / "fb.sqlite3")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    cols = {r[1] for r in conn.execute("PRAGMA table_info(feedback)")} | \
        {r[1] for r in conn.execute("PRAGMA table_info(questions)")}
    assert not any("ip" == c or "addr" in c or "client" in c for c in cols)  # no client address anywhere
    store.close()


def test_concurrent_writers_lose_no_rows(db_target: Path | str) -> None:
    store = FeedbackStore(db_target)
    threads, per_thread = 16, 25

    def work(n: int) -> None:
        for i in range(per_thread):
            assert store.save_feedback(fb(question=f"问题{n}-{i}", rating="down" if i % 2 else "up"))
            assert store.log_question(f"问题{n}-{i}", channel="api", kind="answer", found=True, citations=["x"])

    pool = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert len(store.feedback_rows()) == threads * per_thread
    assert len(store.question_rows()) == threads * per_thread
    store.close()


def test_same_answer_rated_again_updates_its_row_and_can_be_retracted(db_target: Path | str) -> None:
    store = FeedbackStore(db_target)
    store.save_feedback(fb(key="a1", rating="up"))
    store.save_feedback(fb(key="a1", rating="down", reason="信息不全"))
    rows = store.feedback_rows()
    assert len(rows) == 1 and rows[0]["rating"] == "down" and rows[0]["reason"] == "信息不全"
    assert store.retract_feedback("a1") and store.feedback_rows() == []


def test_failed_writes_return_none_and_do_not_raise(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    store = FeedbackStore(blocker / "fb.sqlite3")  # its folder cannot be created
    assert store.save_feedback(fb()) is None
    assert store.log_question("q", channel="chat", kind="answer", found=True)  # handed to the writer
    assert store.flush()  # which logs the failure and goes on
    assert "could not save question" in caplog.text and store.last_error
    assert store.healthy() is False


def test_full_disk_is_reported_and_the_store_recovers(tmp_path: Path) -> None:
    from sqlalchemy import event

    store = FeedbackStore(tmp_path / "fb.sqlite3")
    store.save_feedback(fb())
    pages = sqlite3.connect(tmp_path / "fb.sqlite3").execute("PRAGMA page_count").fetchone()[0]

    def no_growth(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        dbapi_conn.execute(f"PRAGMA max_page_count={pages}")  # the file may not grow: SQLITE_FULL, as a full disk

    store.db.dispose()
    event.listen(store.db.engine, "connect", no_growth)
    results = [store.save_feedback(fb(answer="长" * 4000)) for _ in range(5)]
    assert None in results and "full" in store.last_error
    event.remove(store.db.engine, "connect", no_growth)
    store.db.dispose()  # the disk has room again
    assert store.save_feedback(fb()) is not None


def test_locked_database_fails_within_the_timeout(tmp_path: Path) -> None:
    path = tmp_path / "fb.sqlite3"
    FeedbackStore(path).save_feedback(fb())
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        store = FeedbackStore(path, timeout=0.2)
        assert store.save_feedback(fb()) is None
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert FeedbackStore(path).save_feedback(fb()) is not None  # and works again once the lock is gone


def test_a_locked_database_never_delays_asking(tmp_path: Path) -> None:
    path = tmp_path / "fb.sqlite3"
    store = FeedbackStore(path, timeout=1.0)
    store.save_feedback(fb())
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        t0 = time.monotonic()
        assert all(store.log_question(f"q{i}", channel="api", kind="answer", found=True) for i in range(20))
        assert time.monotonic() - t0 < 0.5  # queued, not waited for
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    store.close()  # drains the queue: what could be written after the lock went is there
    assert len(FeedbackStore(path).question_rows()) >= 1


def test_stats_and_csv(db_target: Path | str) -> None:
    store = FeedbackStore(db_target)
    for q, kind in [("今年招聘多少老师？", "answer"), ("今年招聘多少老师", "answer"), ("今年招聘多少老師？", "answer"),
                    ("德州明天天气怎么样", "refusal"), ("你好", "greeting")]:
        store.log_question(q, channel="chat", kind=kind, found=kind == "answer", citations=["2021/s6/p2"])
    store.save_feedback(fb(rating="down", reason="答非所问", question="=HYPERLINK(\"x\")"))
    s = store.stats(days=7)
    assert s.total_questions == 5 and s.total_refused == 1 and len(s.per_day) == 1
    assert s.most_asked[0][1] == 3  # traditional, punctuation and all: one question
    assert "你好" not in [q for q, _ in s.most_asked]
    assert s.refused[0][:2] == ("德州明天天气怎么样", 1)
    assert s.reasons == (("答非所问", 1),) and dict(s.ratings) == {"down": 1}
    text = store.export_csv("feedback")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0][:4] == ["created_at", "updated_at", "channel", "rating"]
    assert rows[1][3] == "👎" and rows[1][5].startswith("'=")  # no formula runs in a spreadsheet
    assert len(list(csv.reader(io.StringIO(store.export_csv("questions"))))) == 6
    with pytest.raises(ValueError):
        store.export_csv("sqlite_master")


@pytest.mark.parametrize("value, expected", [("up", "up"), ("👎", "down"), (" Dislike ", "down")])
def test_parse_rating(value: str, expected: str) -> None:
    assert parse_rating(value) == expected


def test_parse_rating_rejects_others() -> None:
    with pytest.raises(ValueError):
        parse_rating("meh")


# ------------------------------------------------------------------------------------- PostgreSQL only


def test_a_database_server_that_is_down_fails_writes_honestly_and_recovers(pg_server, pg_url: str) -> None:
    store = FeedbackStore(pg_url, timeout=2.0)
    assert store.save_feedback(fb()) and store.healthy()
    pg_server.stop()
    try:
        t0 = time.monotonic()
        assert store.save_feedback(fb()) is None and store.healthy() is False  # the caller answers 503
        assert "OperationalError" in store.last_error and time.monotonic() - t0 < 10
    finally:
        pg_server.start()
    assert store.save_feedback(fb()) is not None and store.healthy()  # the pool reconnects by itself
    assert len(store.feedback_rows()) == 2
    store.close()


def test_a_database_restart_mid_load_loses_no_acknowledged_row(pg_server, pg_url: str) -> None:
    store = FeedbackStore(pg_url, timeout=2.0)
    acknowledged: list[int] = []
    failed = [0]
    stop = threading.Event()

    def work(n: int) -> None:
        i = 0
        while not stop.is_set():
            row = store.save_feedback(fb(question=f"问题{n}-{i}", key=f"k{n}-{i}"))
            if row is None:
                failed[0] += 1
                time.sleep(0.05)
            else:
                acknowledged.append(row)
            i += 1

    pool = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in pool:
        t.start()
    time.sleep(1.0)
    pg_server.restart()  # a fast shutdown: the connections in use are cut
    time.sleep(1.0)
    pg_server.kill()  # and a crash (immediate stop): what was committed survives recovery
    pg_server.start()
    time.sleep(1.0)
    stop.set()
    for t in pool:
        t.join()
    stored = {r["id"] for r in store.feedback_rows()}
    assert len(acknowledged) > 100 and set(acknowledged) <= stored  # every "saved" the citizen saw is there
    # a commit whose acknowledgement was cut by the restart may be stored without being acknowledged
    assert len(stored) - len(set(acknowledged)) <= len(pool)
    store.close()
