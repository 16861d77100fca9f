"""``dzqa loadtest``: a bounded load test of a local server (loopback only).

It starts the real server (``dzqa serve``) on a free loopback port with a throw-away feedback database,
then drives ``POST /api/ask``, the Gradio chat endpoint and ``POST /api/feedback`` with many concurrent
clients and varied questions, and checks what a public deployment must guarantee:

* zero 5xx responses and zero lost feedback rows (every feedback the server acknowledged is in SQLite);
* with rate limiting on, excess requests get ``429`` with ``Retry-After`` (never an error);
* memory stays flat (server RSS before and after).

It prints p50/p95/p99 latency and throughput per route and exits non-zero when a guarantee fails.
Top-level imports are stdlib only: the CLI imports this module to build its parser.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from .feedback import REASONS

ROOT = Path(__file__).resolve().parent.parent
#: how a citizen may wrap the same question: variety for the caches and the tokenizer
WRAPPERS = ("{q}", "请问{q}", "{q}？", "你好，{q}", "{q} ", "想了解一下：{q}", "{q}谢谢")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--requests", type=int, default=2000, help="requests in the main phase (default 2000)")
    p.add_argument("--clients", type=int, default=32, help="concurrent clients (default 32)")
    p.add_argument("--time-limit", type=float, default=600.0, help="stop issuing requests after this many s")
    p.add_argument("--rate-limit-requests", type=int, default=300,
                   help="requests in the rate-limit phase (0 skips it)")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")


# ----------------------------------------------------------------------------------------------- server


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    db: Path

    def rss_mb(self) -> float:
        import psutil

        return psutil.Process(self.process.pid).memory_info().rss / 2**20


@contextmanager
def running_server(env: dict[str, str], workdir: Path) -> Iterator[Server]:
    """``dzqa serve`` on a free loopback port (the benchmark's runner), stopped afterwards."""
    from .bench import Server as Runner

    db = workdir / f"feedback-{time.monotonic_ns()}.sqlite3"
    runner = Runner(workdir, {"DZQA_FEEDBACK_DB": str(db), **env}, "今年要新建多少所公办幼儿园？")
    try:
        yield Server(f"http://127.0.0.1:{runner.port}", runner.proc, db)
    finally:
        runner.stop()


# --------------------------------------------------------------------------------------------- workload


def questions() -> list[str]:
    from .bench import load_questions

    return load_questions(ROOT)


@dataclass
class Result:
    route: str
    status: int
    seconds: float
    ok: bool = True  # the body had the expected shape
    detail: str = ""


@dataclass
class Tally:
    results: list[Result] = field(default_factory=list)
    feedback_saved: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, r: Result) -> None:
        with self.lock:
            self.results.append(r)


def _ask(client: Any, base: str, q: str) -> Result:
    t = time.perf_counter()
    r = client.post(base + "/api/ask", json={"question": q})
    if r.status_code == 429:  # rate limited: must say when to come back
        return Result("/api/ask", 429, time.perf_counter() - t, "retry-after" in r.headers)
    ok = r.status_code == 200 and set(r.json()) == {"question", "answer", "found", "citations"}
    return Result("/api/ask", r.status_code, time.perf_counter() - t, ok)


def _feedback(client: Any, base: str, q: str, tally: Tally) -> Result:
    """Ask, then rate the answer; a row the server acknowledged must be in the database."""
    a = client.post(base + "/api/ask", json={"question": q}).json()
    rating = random.choice(["up", "down"])
    body = {"question": q, "answer": a.get("answer", ""), "citations": [c["id"] for c in a.get("citations", [])],
            "rating": rating, "reason": random.choice(REASONS) if rating == "down" else None}
    t = time.perf_counter()
    r = client.post(base + "/api/feedback", json=body)
    saved = r.status_code in (200, 201) and bool(r.json().get("saved", True))
    if saved:
        with tally.lock:
            tally.feedback_saved += 1
    return Result("/api/feedback", r.status_code, time.perf_counter() - t, r.status_code < 500)


def _chat(client: Any, base: str, q: str, call: Callable[[str], list[Any]]) -> Result:
    """The Gradio chat endpoint through Gradio's HTTP API: POST the call, then read its event stream."""
    t = time.perf_counter()
    r = client.post(base + "/gradio_api/call/chat", json={"data": call(q)})
    if r.status_code != 200:
        return Result("gradio chat", r.status_code, time.perf_counter() - t, False, r.text[:200])
    event_id = r.json()["event_id"]
    status, ok, detail = 200, False, ""
    with client.stream("GET", f"{base}/gradio_api/call/chat/{event_id}") as stream:
        status = stream.status_code
        event = ""
        for line in stream.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                ok = event == "complete"
                detail = line[:200]
                break
    return Result("gradio chat", status, time.perf_counter() - t, ok, detail)


def chat_payload(base: str) -> Callable[[str], list[Any]]:
    """How to call the chat endpoint, read from the server's own API description."""
    import httpx

    info = httpx.get(base + "/gradio_api/info", timeout=10).json()
    params = info["named_endpoints"]["/chat"]["parameters"]

    def build(q: str) -> list[Any]:
        data: list[Any] = []
        placed = False
        for p in params:
            if not placed and p.get("python_type", {}).get("type") == "str" and not p.get("parameter_has_default"):
                data.append(q)
                placed = True
            else:
                data.append(p.get("parameter_default"))
        return data

    return build


def run_phase(base: str, total: int, clients: int, time_limit: float, mix: dict[str, float]) -> tuple[Tally, float]:
    """``total`` requests from ``clients`` threads with the given route mix; returns results and wall time."""
    import httpx

    qs = questions()
    tally = Tally()
    chat = chat_payload(base) if mix.get("chat") else None
    counter = iter(range(total))
    counter_lock = threading.Lock()
    deadline = time.monotonic() + time_limit
    routes = list(mix)
    weights = [mix[r] for r in routes]

    def worker(seed: int) -> None:
        rnd = random.Random(seed)
        with httpx.Client(timeout=60) as client:
            while time.monotonic() < deadline:
                with counter_lock:
                    if next(counter, None) is None:
                        return
                q = rnd.choice(WRAPPERS).format(q=rnd.choice(qs))
                route = rnd.choices(routes, weights)[0]
                try:
                    if route == "ask":
                        res = _ask(client, base, q)
                    elif route == "chat" and chat is not None:
                        res = _chat(client, base, q, chat)
                    else:
                        res = _feedback(client, base, q, tally)
                except httpx.HTTPError as e:
                    res = Result(route, 0, 0.0, False, f"{type(e).__name__}: {e}")
                tally.add(res)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return tally, time.perf_counter() - started


def summarise(tally: Tally, wall: float) -> dict[str, dict[str, Any]]:
    by_route: dict[str, list[Result]] = defaultdict(list)
    for r in tally.results:
        by_route[r.route].append(r)
    out = {}
    for route, rs in sorted(by_route.items()):
        lat = sorted(r.seconds * 1000 for r in rs if r.status and r.status < 500)
        q = statistics.quantiles(lat, n=100) if len(lat) >= 2 else [lat[0] if lat else 0.0] * 99
        out[route] = {"requests": len(rs), "2xx": sum(200 <= r.status < 300 for r in rs),
                      "429": sum(r.status == 429 for r in rs),
                      "4xx": sum(400 <= r.status < 500 and r.status != 429 for r in rs),
                      "5xx": sum(r.status >= 500 for r in rs), "failed": sum(r.status == 0 for r in rs),
                      "bad_body": sum(not r.ok and 200 <= r.status < 300 for r in rs),
                      "429_without_retry_after": sum(not r.ok and r.status == 429 for r in rs),
                      "p50_ms": round(q[49], 1), "p95_ms": round(q[94], 1), "p99_ms": round(q[98], 1),
                      "rps": round(len(rs) / wall, 1)}
    return out


def feedback_rows(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM feedback").fetchone()[0])


def _table(rows: dict[str, dict[str, Any]]) -> str:
    cols = ("requests", "2xx", "429", "4xx", "5xx", "failed", "p50_ms", "p95_ms", "p99_ms", "rps")
    lines = [f"{'route':<16}" + "".join(f"{c:>10}" for c in cols)]
    for route, m in rows.items():
        lines.append(f"{route:<16}" + "".join(f"{m[c]:>10}" for c in cols))
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    report: dict[str, Any] = {}
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="dzqa-load-") as tmp:
        work = Path(tmp)
        print("starting server (rate limit off) …", file=sys.stderr)
        with running_server({"DZQA_RATE_LIMIT": "0"}, work) as server:
            run_phase(server.url, 40, 4, 120, {"ask": 1.0})  # warm-up: first requests pay one-off costs
            rss_before = server.rss_mb()
            print(f"main phase: {args.requests} requests, {args.clients} clients …", file=sys.stderr)
            tally, wall = run_phase(server.url, args.requests, args.clients, args.time_limit,
                                    {"ask": 0.6, "chat": 0.25, "feedback": 0.15})
            rss_after = server.rss_mb()
            rows = feedback_rows(server.db)
            main_rows = summarise(tally, wall)
            lost = tally.feedback_saved - rows
            report["main"] = {"wall_s": round(wall, 1), "throughput_rps": round(len(tally.results) / wall, 1),
                              "routes": main_rows, "rss_mb_before": round(rss_before, 1),
                              "rss_mb_after": round(rss_after, 1), "feedback_acknowledged": tally.feedback_saved,
                              "feedback_rows": rows, "feedback_lost": lost}
            print(f"\nmain phase: {len(tally.results)} requests in {wall:.1f} s "
                  f"({len(tally.results) / wall:.1f} req/s), {args.clients} clients")
            print(_table(main_rows))
            print(f"server RSS: {rss_before:.0f} MB before → {rss_after:.0f} MB after")
            print(f"feedback: {tally.feedback_saved} acknowledged, {rows} rows in SQLite, {lost} lost")
            if any(m["5xx"] or m["failed"] or m["bad_body"] for m in main_rows.values()):
                failures.append("5xx, failed or malformed responses in the main phase")
            if lost:
                failures.append(f"{lost} feedback rows lost")
        if args.rate_limit_requests > 0:
            limit = 60
            print(f"\nrate-limit phase: DZQA_RATE_LIMIT={limit}, {args.rate_limit_requests} requests …",
                  file=sys.stderr)
            with running_server({"DZQA_RATE_LIMIT": str(limit)}, work) as server:
                tally, wall = run_phase(server.url, args.rate_limit_requests, 8, args.time_limit, {"ask": 1.0})
                rl = summarise(tally, wall)
                report["rate_limit"] = {"limit_per_minute": limit, "routes": rl}
                print(_table(rl))
                ask = rl.get("/api/ask", {})
                if not ask.get("429"):
                    failures.append("rate limiting on, but no request got 429")
                if ask.get("5xx") or ask.get("failed"):
                    failures.append("5xx or failed requests with rate limiting on")
                if ask.get("429_without_retry_after"):
                    failures.append("429 without Retry-After")
    report["failures"] = failures
    if args.json:
        Path(args.json).write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    print("\nRESULT: " + ("PASS" if not failures else "FAIL — " + "; ".join(failures)))
    return 0 if not failures else 1

