"""``dzqa bench`` (``make bench``): where a question's time goes, in one table, measured in one run.

Rows, in the order they are measured:

* floors: plain ``SentenceTransformer.encode`` of one question (torch fp32) and the product's query
  encoder, median and p95 over the question set (alternating blocks, so both see the same machine);
* ``search`` and ``ask`` in process: p50/p95 of the whole call and of each stage (encode, BM25, FAISS,
  fusion, answer composition) from the timings the engine returns;
* growth: the same with a synthetic corpus 100× and 1000× larger: copies of the report's passages with
  distinct ids, whose unit vectors are the real ones plus a small random perturbation (re-encoding
  125k units would take an hour and measure nothing new); BM25 indexes every synthetic passage;
* HTTP: the real server (``dzqa serve`` in a subprocess on a free loopback port, throw-away feedback
  database) driven through ``POST /api/ask`` by 1 and 16 concurrent keep-alive clients;
* many reports: a real corpus of 50 reports (the Dezhou report and the four national ones of
  ``../shared/corpus-extra``, each copied under ten distinct ids): the build (with the per-document
  embedding cache: what it reused and embedded), the rebuild after adding one changed report, and search/ask;
* cold start: process start → first answer over HTTP, with the index built and with none (a temporary
  ``DZQA_INDEX_DIR``); index build time (model already loaded); the server's peak RSS.

The targets of issue 5 are checked at the end. Results also go to ``bench-results/bench-<time>.json``.
Top-level imports are stdlib only: the CLI imports this module to build its parser.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

QUESTION_FILES = ("tests/data/questions.jsonl", "tests/data/calibration.jsonl")
FALLBACK_QUESTIONS = ("今年要新建多少所公办幼儿园？", "城镇登记失业率控制在多少？", "农村公路怎么建设", "德州明天天气怎么样")
STAGES = ("encode", "bm25", "faiss", "fusion", "answer")
#: norm of the random perturbation added to the real unit vectors in the synthetic corpora (cosine ≈ 0.999)
NOISE = 0.05
SERVER_TIMEOUT = 300.0  # seconds for a server to answer its first question (an index build included)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rounds", type=int, default=3, help="passes over the question set per measurement (default 3)")
    p.add_argument("--requests", type=int, default=800, help="HTTP requests per concurrency level (default 800)")
    p.add_argument("--clients", default="1,16", help="concurrent HTTP clients, comma-separated (default 1,16)")
    p.add_argument("--scales", default="100,1000", help="synthetic corpus sizes, comma-separated ('' skips growth)")
    p.add_argument("--reports", type=int, default=50,
                   help="size of the many-reports corpus made from ../shared/corpus-extra (0 skips it; default 50)")
    p.add_argument("--extra", default="",
                   help="folder with the extra reports (default: ../shared/corpus-extra beside the checkout)")
    p.add_argument("--no-http", action="store_true", help="skip the server rows (HTTP, cold start, peak RSS)")
    p.add_argument("--out", default="bench-results", help="folder for the JSON results (default bench-results/)")


# ------------------------------------------------------------------------------------------- helpers


def pct(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), linear interpolation; nan for no values."""
    v = sorted(values)
    if not v:
        return float("nan")
    pos = (len(v) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def summary(ms: Sequence[float]) -> dict[str, float]:
    return {"p50": round(pct(ms, 50), 3), "p95": round(pct(ms, 95), 3), "n": len(ms)}


def load_questions(home: Path) -> list[str]:
    out: list[str] = []
    for name in QUESTION_FILES:
        f = home / name
        if f.exists():
            out += [json.loads(line)["q"] for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
    return out or list(FALLBACK_QUESTIONS)


def machine() -> dict[str, Any]:
    model = platform.processor()
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cores": os.cpu_count(), "cpu": model, "python": platform.python_version(),
            "load_before": os.getloadavg() if hasattr(os, "getloadavg") else None}


def timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """``fn(*args, **kwargs)`` and how long it took, ms."""
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, (time.perf_counter() - t) * 1000


def log(msg: str) -> None:
    print(f"  … {msg}", file=sys.stderr, flush=True)


# -------------------------------------------------------------------------------------------- floors


def floors(engine: Any, questions: Sequence[str], rounds: int) -> tuple[dict[str, Any], Any]:
    """Plain sentence-transformers vs the product's encoder (and the latter on one thread), one question a call."""
    from .embed import OnnxQueryEncoder, TorchQueryEncoder, load_sentence_transformer, onnx_folder

    st = load_sentence_transformer(engine.spec, engine.settings)
    prefix = engine.settings.query_prefix
    encoders: dict[str, Any] = {"sentence_transformers": TorchQueryEncoder(st, prefix), "product": engine.encoder}
    if isinstance(engine.encoder, OnnxQueryEncoder):
        encoders["product_1_thread"] = OnnxQueryEncoder(onnx_folder(engine.spec, engine.settings), prefix, 1)
    times: dict[str, list[float]] = {k: [] for k in encoders}
    for enc in encoders.values():  # warm-up
        for q in questions[:10]:
            enc.encode(q)
    for _ in range(rounds):  # alternating blocks: both see the same machine, neither the other's spinning threads
        for name, enc in encoders.items():
            for q in questions:
                times[name].append(timed(enc.encode, q)[1])
    out = {name: {**summary(ms), "name": encoders[name].name} for name, ms in times.items()}
    out["speedup"] = round(out["sentence_transformers"]["p50"] / out["product"]["p50"], 2)
    return out, st


# ---------------------------------------------------------------------------------------- in process


def stages(engines: dict[str, Any], questions: Sequence[str], rounds: int) -> dict[str, Any]:
    """p50/p95 of search and ask per question, whole call and per stage (ms), for each engine.

    The engines take turns question by question, so a busy moment of the machine falls on all of them
    alike and the growth rows compare with the 1× row fairly."""
    kinds = ("search", "ask")
    total: dict[tuple[str, str], list[float]] = {(e, k): [] for e in engines for k in kinds}
    parts: dict[tuple[str, str], dict[str, list[float]]] = {(e, k): {s: [] for s in STAGES}
                                                            for e in engines for k in kinds}
    cpu = {(e, k): 0.0 for e in engines for k in kinds}
    for engine in engines.values():  # warm-up
        for q in questions[:10]:
            engine.search(q)
            engine.ask(q)
    for _ in range(rounds):
        for q in questions:
            for kind in kinds:
                for label, engine in engines.items():
                    call = engine.search if kind == "search" else engine.ask
                    c0 = time.process_time()
                    try:
                        result, ms = timed(call, q)
                    except ValueError:  # a question search refuses (no words): not a timing
                        continue
                    cpu[label, kind] += time.process_time() - c0  # all threads: onnxruntime's too
                    total[label, kind].append(ms)
                    for s in STAGES:
                        if s in result.timings:
                            parts[label, kind][s].append(result.timings[s] * 1000)
    out: dict[str, Any] = {}
    for label in engines:
        out[label] = {kind: {"total": summary(total[label, kind]),
                             **{s: summary(v) for s, v in parts[label, kind].items() if v},
                             "cpu_ms_per_call": round(cpu[label, kind] * 1000 / max(1, len(total[label, kind])), 2)}
                      for kind in kinds}
    return out


def index_facts(index: Any) -> dict[str, Any]:
    return {"passages": len(index.passages), "units": int(index.dense.ntotal), "dense": type(index.dense).__name__}


def synthetic_engine(engine: Any, scale: int, folder: Path) -> tuple[Any, float]:
    """The engine over a corpus ``scale``× the report: copy 0 is the report itself, copies 1.. have ids
    ``x<n>/...`` and unit vectors perturbed by :data:`NOISE`; BM25 indexes every passage."""
    import numpy as np

    from .engine import Engine
    from .index import load_index, passage_tokens, write_index
    from .passages import Unit

    base = engine.index
    started = time.perf_counter()
    rng = np.random.default_rng(scale)
    n_pass = len(base.passages)
    tokens0 = passage_tokens(engine.tokenizer, base.passages)
    passages, units, unit_tokens, tokens = [], [], [], []
    for c in range(scale):
        tag = f"x{c}/" if c else ""
        for p in base.passages:
            cit = p.citation
            passages.append(replace(p, id=tag + p.id, citation=replace(
                cit, doc_id=tag + cit.doc_id, section_id=tag + cit.section_id, paragraph_id=tag + cit.paragraph_id)))
        units += [Unit(u.passage + c * n_pass, u.start, u.end, u.text) for u in base.units]
        unit_tokens += [sorted(t) for t in base.unit_tokens]
        tokens += tokens0
    vectors = np.tile(np.asarray(base.unit_vectors, np.float32), (scale, 1))
    n_units = len(base.units)
    noise = rng.standard_normal((len(vectors) - n_units, vectors.shape[1]), dtype=np.float32)
    vectors[n_units:] += noise * (NOISE / np.sqrt(vectors.shape[1]))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    manifest = {"fingerprint": f"synthetic-{scale}x", "model": base.manifest["model"], "synthetic": scale}
    path = write_index(folder / f"x{scale}", passages, units, unit_tokens, tokens, base.terms, vectors, manifest)
    index = load_index(path)
    seconds = time.perf_counter() - started
    return Engine(engine.settings, engine.corpus, engine.spec, index, engine.encoder, engine.tokenizer,
                  engine.ready), seconds


def index_build(engine: Any, st_model: Any, folder: Path) -> float:
    """Seconds to build the real index from scratch, the embedding model already loaded."""
    from .index import build_index

    settings = engine.settings.replace(index_dir=folder / "build")
    return timed(build_index, engine.corpus, engine.spec, settings, st_model=st_model)[1] / 1000


def many_reports(settings: Any, extra: Path, n: int, folder: Path) -> tuple[Any, dict[str, Any]]:
    """A corpus of ``n`` real reports in ``folder``: corpus/ and the extra reports (their sidecars from
    tests/data/corpus-extra), copied under distinct ids; built through the real build (embedding cache
    included), then one report changed and the index rebuilt. Returns the engine and the facts."""
    from .engine import Engine

    sources = [(t, t.with_suffix(".json")) for t in sorted(settings.corpus_dir.glob("*.txt"))]
    sidecars = settings.home / "tests" / "data" / "corpus-extra"
    sources += [(extra / f"{j.stem}.txt", j) for j in sorted(sidecars.glob("*.json")) if (extra / f"{j.stem}.txt").is_file()]
    corpus = folder / "corpus"
    corpus.mkdir(parents=True)
    made = 0
    copy = 0
    while made < n:
        for text, sidecar in sources:
            if made >= n:
                break
            meta = json.loads(sidecar.read_text(encoding="utf-8"))
            name = f"{text.stem}-{copy}" if copy else text.stem
            meta["id"] = f"{meta['id']}-{copy}" if copy else meta["id"]
            shutil.copyfile(text, corpus / f"{name}.txt")
            (corpus / f"{name}.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
            made += 1
        copy += 1
    s = settings.replace(corpus_dir=corpus, index_dir=folder / "index")
    engine, ms = timed(Engine.open, s)
    facts = {"reports": made, "build_s": round(ms / 1000, 1), **index_facts(engine.index),
             "cache": engine.index.manifest.get("embedding_cache", {})}
    # a city's yearly update: one report more (here: one copy changed, so its texts are new; one without
    # an `exclude` marker, after which an added paragraph would not be part of the report)
    changed = next(t for t in sorted(corpus.glob("*.txt"), reverse=True)
                   if not json.loads(t.with_suffix(".json").read_text(encoding="utf-8")).get("exclude"))
    changed.write_text(changed.read_text(encoding="utf-8") + "\n\n基准测试追加的一段：新建城市书房十处。\n",
                       encoding="utf-8")
    engine, ms = timed(Engine.open, s)
    facts.update(update_s=round(ms / 1000, 1), update_cache=engine.index.manifest.get("embedding_cache", {}))
    return engine, facts


# --------------------------------------------------------------------------------------------- HTTP


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ask_http(conn: http.client.HTTPConnection, question: str) -> int:
    conn.request("POST", "/api/ask", json.dumps({"question": question}), {"content-type": "application/json"})
    resp = conn.getresponse()
    resp.read()
    return resp.status


class Server:
    """``dzqa serve`` in a subprocess on a free loopback port; :attr:`cold_start` is start → first answer."""

    def __init__(self, folder: Path, env: dict[str, str], question: str) -> None:
        self.port = free_port()
        self.log = folder / f"server-{self.port}.log"
        env = {**os.environ, "DZQA_FEEDBACK_DB": str(folder / f"feedback-{self.port}.sqlite3"),
               "DZQA_RATE_LIMIT": "0", **env}
        started = time.perf_counter()
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "dzqa", "serve", "--host", "127.0.0.1",
                                          "--port", str(self.port)], env=env, stdout=out, stderr=subprocess.STDOUT)
        self.cold_start = self._first_answer(question, started)
        self.rss_ready_mb = self.memory()["rss_mb"]

    def _first_answer(self, question: str, started: float) -> float:
        while time.perf_counter() - started < SERVER_TIMEOUT:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited ({self.proc.returncode}): {self.tail()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if ask_http(conn, question) == 200:
                    conn.close()
                    return time.perf_counter() - started
                conn.close()
            except OSError:
                pass
            time.sleep(0.02)
        raise RuntimeError(f"the server did not answer within {SERVER_TIMEOUT:.0f} s: {self.tail()}")

    def tail(self) -> str:
        try:
            return " | ".join(self.log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-3:])
        except OSError:
            return ""

    def memory(self) -> dict[str, float]:
        """Resident and peak resident memory (VmHWM) of the server process, MB."""
        fields: dict[str, float] = {}
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    fields[key] = int(value.split()[0]) / 1024
        except OSError:
            pass
        return {"rss_mb": round(fields.get("VmRSS", float("nan")), 1),
                "peak_rss_mb": round(fields.get("VmHWM", float("nan")), 1)}

    def cpu_seconds(self) -> float:
        """User + system CPU time the server has used so far (all its threads)."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return float("nan")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@contextmanager
def server(folder: Path, question: str, **env: str) -> Iterator[Server]:
    s = Server(folder, env, question)
    try:
        yield s
    finally:
        s.stop()


def load(port: int | Sequence[int], questions: Sequence[str], clients: int, requests: int) -> dict[str, Any]:
    """``requests`` POST /api/ask from ``clients`` keep-alive connections at once (closed loop); with several
    ports (server processes) the clients take them in turn."""
    ports = [port] if isinstance(port, int) else list(port)
    lock = threading.Lock()
    latencies: list[float] = []
    errors: list[str] = []
    issued = [0]

    def client(offset: int, port: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            while True:
                with lock:
                    i = issued[0]
                    issued[0] += 1
                if i >= requests:
                    return
                try:
                    status, ms = timed(ask_http, conn, questions[(i + offset) % len(questions)])
                except (OSError, http.client.HTTPException) as e:
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                    status, ms = str(e), 0.0
                with lock:
                    if status == 200:
                        latencies.append(ms)
                    else:
                        errors.append(str(status))
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(k * 7, ports[k % len(ports)])) for k in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    return {"clients": clients, "requests": requests, "errors": len(errors), "seconds": round(seconds, 2),
            "rps": round(len(latencies) / seconds, 1), **summary(latencies)}


def http_rows(questions: Sequence[str], clients: Sequence[int], requests: int, folder: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    first = questions[0]
    log("server with the built index: cold start, then load")
    with server(folder, first) as s:
        out["cold_start_built_s"] = round(s.cold_start, 2)
        out["rss_ready_mb"] = s.rss_ready_mb
        load(s.port, questions, 4, 40)  # warm-up
        out["load"] = []
        for n in clients:
            log(f"HTTP /api/ask, {n} client(s)")
            cpu, client_cpu = s.cpu_seconds(), time.process_time()
            row = load(s.port, questions, n, requests)
            row["server_cpu_ms_per_request"] = round((s.cpu_seconds() - cpu) * 1000 / max(1, requests), 2)
            row["client_cpu_ms_per_request"] = round((time.process_time() - client_cpu) * 1000 / max(1, requests), 2)
            out["load"].append(row)
        out.update(s.memory())
        # several processes on one machine (what `--workers N` would give): a second server beside the first,
        # the clients split between them; measured so the docs can say whether it pays on this machine
        log(f"HTTP /api/ask, {max(clients)} clients over two server processes")
        with server(folder, first) as s2:
            load(s2.port, questions, 4, 40)
            out["two_processes"] = load([s.port, s2.port], questions, max(clients), requests)
            out["two_processes"]["rss_mb_each"] = s2.memory()["rss_mb"]
    log("server with no index: cold start including the build")
    with server(folder, first, DZQA_INDEX_DIR=str(folder / "no-index")) as s:
        out["cold_start_no_index_s"] = round(s.cold_start, 2)
    return out


# ------------------------------------------------------------------------------------------- targets


def targets(r: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 5's targets against this run: (name, target, measured, met)."""
    rows = []

    def row(name: str, target: str, measured: str, met: bool | None) -> None:
        rows.append({"target": name, "wanted": target, "measured": measured, "met": met})

    f = r["floors"]
    enc = f["product"]["p50"]
    row("encoder ≥ 3× sentence-transformers", "≥ 3.0×", f"{f['speedup']:.2f}×", f["speedup"] >= 3)
    ask1 = r["in_process"]["ask"]["total"]["p50"]
    row("ask p50 ≤ 1.3 × encoder (1×)", f"≤ {1.3 * enc:.2f} ms", f"{ask1:.2f} ms ({ask1 / enc:.2f}×)", ask1 <= 1.3 * enc)
    many = r.get("reports")
    if many:
        a = many["ask"]["total"]["p50"]
        row(f"ask p50 ≤ 2 × encoder ({many['reports']} reports)", f"≤ {2 * enc:.2f} ms", f"{a:.2f} ms ({a / enc:.2f}×)",
            a <= 2 * enc)
        row("rebuild after adding a report", "≤ 30 s", f"{many['update_s']:.1f} s", many["update_s"] <= 30)
    grown = r.get("growth", {})
    if "1000" in grown:
        a = grown["1000"]["ask"]["total"]["p50"]
        row("ask p50 ≤ 2 × encoder (1000×)", f"≤ {2 * enc:.2f} ms", f"{a:.2f} ms ({a / enc:.2f}×)", a <= 2 * enc)
    h = r.get("http") or {}
    sixteen = next((x for x in h.get("load", []) if x["clients"] == 16), None)
    if sixteen:
        want = 0.8 * (r["machine"]["cores"] or 1) / (enc / 1000)
        row("HTTP 16 clients throughput", f"≥ {want:.0f} req/s", f"{sixteen['rps']:.0f} req/s", sixteen["rps"] >= want)
        row("HTTP 16 clients p95", "≤ 50 ms", f"{sixteen['p95']:.1f} ms", sixteen["p95"] <= 50)
    if "cold_start_built_s" in h:
        row("cold start, index built", "≤ 5 s", f"{h['cold_start_built_s']:.2f} s", h["cold_start_built_s"] <= 5)
    if "peak_rss_mb" in h:
        row("peak server RSS", "≤ 800 MB", f"{h['peak_rss_mb']:.0f} MB", h["peak_rss_mb"] <= 800)
    return rows


# ------------------------------------------------------------------------------------------- report


def stage_lines(title: str, block: dict[str, Any]) -> list[str]:
    cols = ("total",) + STAGES
    lines = [title, "    " + f"{'':12}" + "".join(f"{c:>9}" for c in cols) + "   CPU/call"]
    for kind in ("search", "ask"):
        for q in ("p50", "p95"):
            cells = [f"{block[kind][c][q]:9.3f}" if c in block[kind] else f"{'–':>9}" for c in cols]
            cpu = f"{block[kind]['cpu_ms_per_call']:9.2f}" if q == "p50" else ""
            lines.append("    " + f"{kind + ' ' + q:12}" + "".join(cells) + cpu)
    return lines


def render(r: dict[str, Any]) -> str:
    m = r["machine"]
    load_avg = ", ".join(f"{x:.2f}" for x in m["load_before"]) if m.get("load_before") else "?"
    lines = [f"dzqa bench  {r['started']}  ·  {m['cores']} cores ({m['cpu']})  ·  load before {load_avg}",
             f"questions: {r['questions']} × {r['rounds']} rounds · all times in ms", ""]
    f = r["floors"]
    lines.append(f"{'floors: one question per call':<62}{'p50':>8} {'p95':>8}")
    labels = {"sentence_transformers": "plain SentenceTransformer.encode (torch fp32)",
              "product": f"product encoder: {f['product']['name']}",
              "product_1_thread": "the same on one thread (reference)"}
    for key, label in labels.items():
        if key in f:
            lines.append(f"    {label:<58}{f[key]['p50']:8.2f} {f[key]['p95']:8.2f}")
    lines.append(f"    speed-up of the product encoder (p50): {f['speedup']:.2f}×")
    lines.append("")
    ip = r["in_process"]
    facts = r["index"]
    lines += stage_lines(f"in process, 1× corpus ({facts['passages']} passages, {facts['units']} units, "
                         f"{facts['dense']})", ip)
    for scale, g in r.get("growth", {}).items():
        gf = g["index"]
        lines.append("")
        lines += stage_lines(f"growth {scale}× ({gf['passages']:,} passages, {gf['units']:,} units, {gf['dense']}; "
                             f"synthetic index built in {g['build_s']:.1f} s)", g)
    many = r.get("reports")
    if many:
        c, u = many["cache"], many["update_cache"]
        lines.append("")
        lines += stage_lines(f"{many['reports']} real reports ({many['passages']:,} passages, {many['units']:,} units, "
                             f"{many['dense']}; opened in {many['build_s']:.1f} s, building with "
                             f"{c.get('embedded', '?')} document(s) embedded and {c.get('reused', '?')} from the cache)",
                             many)
        lines.append(f"    one report changed → rebuilt and opened in {many['update_s']:.1f} s "
                     f"({u.get('embedded', '?')} embedded, {u.get('reused', '?')} from the cache)")
    elif r.get("reports_skipped"):
        lines += ["", f"many-reports rows skipped: {r['reports_skipped']}"]
    if r.get("growth"):
        lines.append(f"    (synthetic: copies of the report's passages with distinct ids; unit vectors = real ones "
                     f"+ noise of norm {NOISE}; BM25 indexes every copy)")
    h = r.get("http")
    lines.append("")
    if h:
        lines.append("HTTP POST /api/ask (real server, keep-alive clients)   req/s      p50      p95  errors"
                     "  server CPU/req")
        for x in h["load"]:
            lines.append(f"    {x['clients']:>2} client(s), {x['requests']} requests{'':<21}{x['rps']:7.1f}"
                         f" {x['p50']:8.2f} {x['p95']:8.2f}  {x['errors']:>6}"
                         f"  {x.get('server_cpu_ms_per_request', float('nan')):9.2f} ms")
        if "two_processes" in h:
            x = h["two_processes"]
            lines.append(f"    {x['clients']:>2} clients over two server processes{'':<15}{x['rps']:7.1f}"
                         f" {x['p50']:8.2f} {x['p95']:8.2f}  {x['errors']:>6}   ({x['rss_mb_each']:.0f} MB each)")
        lines.append(f"cold start (process start → first answer): {h['cold_start_built_s']:.2f} s with the index built, "
                     f"{h['cold_start_no_index_s']:.2f} s with none (built on the way)")
        lines.append(f"server memory: {h['rss_ready_mb']:.0f} MB resident when ready, peak {h['peak_rss_mb']:.0f} MB "
                     f"after the load")
    elif r.get("http_skipped"):
        lines.append(f"HTTP rows skipped: {r['http_skipped']}")
    if "index_build_s" in r:
        lines.append(f"index build: {r['index_build_s']:.2f} s for {facts['units']} units (embedding model loaded)")
    lines += ["", "targets (issue 5)"]
    for t in r["targets"]:
        mark = "met" if t["met"] else "NOT met"
        lines.append(f"    {t['target']:<38} {t['wanted']:>14}   {t['measured']:<22} {mark}")
    before, after = (m.get("load_before") or [0.0])[0], (m.get("load_after") or [0.0])[0]
    if before > 1.0 or after > (m["cores"] or 1) + 1.0:  # the bench itself keeps the cores busy
        lines.append(f"    note: something else was running (1-min load {before:.1f} before, {after:.1f} after); "
                     f"these numbers are noisy: run again when the machine is quiet")
    one = f.get("product_1_thread")
    if one:
        lines.append(f"    (for scale: {m['cores']} cores ÷ the one-thread encoder time = "
                     f"{(m['cores'] or 1) / one['p50'] * 1000:.0f} questions/s of pure encoding, nothing else)")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- main


def main(args: argparse.Namespace) -> int:
    from .engine import Engine
    from .settings import get_settings

    settings = get_settings()
    clients = [int(x) for x in str(args.clients).split(",") if x.strip()]
    scales = [int(x) for x in str(args.scales).split(",") if x.strip()]
    r: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": machine(),
                         "rounds": args.rounds}
    log("opening the engine")
    engine = Engine.open(settings)
    questions = load_questions(settings.home)
    r["questions"] = len(questions)
    r["index"] = index_facts(engine.index)
    r["query_encoder"] = engine.encoder.name
    log("floors: sentence-transformers vs the product's encoder")
    r["floors"], st_model = floors(engine, questions, args.rounds)
    with tempfile.TemporaryDirectory(prefix="dzqa-bench-") as tmp:
        folder = Path(tmp)
        log("index build")
        r["index_build_s"] = round(index_build(engine, st_model, folder), 2)
        del st_model
        engines = {"1": engine}
        r["growth"] = {}
        for scale in scales:
            log(f"growth: synthetic corpus {scale}×")
            engines[str(scale)], seconds = synthetic_engine(engine, scale, folder)
            r["growth"][str(scale)] = {"index": index_facts(engines[str(scale)].index), "build_s": round(seconds, 1)}
        extra = Path(args.extra) if args.extra else settings.home.parent / "shared" / "corpus-extra"
        if args.reports > 0 and extra.is_dir():
            log(f"many reports: a corpus of {args.reports} real reports")
            engines["reports"], r["reports"] = many_reports(settings, extra, args.reports, folder / "many")
        elif args.reports > 0:
            r["reports_skipped"] = f"{extra} is absent (the extra reports are not part of a user's clone)"
        log("search and ask in process" + (f", 1× and {', '.join(f'{x}×' for x in scales)} in turn" if scales else ""))
        timings = stages(engines, questions, args.rounds)
        r["in_process"] = timings.pop("1")
        if "reports" in timings:
            r["reports"].update(timings.pop("reports"))
        for scale, block in timings.items():
            r["growth"][scale].update(block)
        del engines, timings
        shutil.rmtree(folder / "build", ignore_errors=True)
        if args.no_http:
            r["http_skipped"] = "--no-http"
        else:
            import importlib.util

            if importlib.util.find_spec("dzqa.web.server") is None:  # the server runs in a subprocess
                r["http_skipped"] = "dzqa.web.server is not there"
            else:
                try:
                    r["http"] = http_rows(questions, clients, args.requests, folder)
                except RuntimeError as e:  # the server failed to start: keep the rows measured so far
                    r["http_skipped"] = str(e)
    r["machine"]["load_after"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    r["targets"] = targets(r)
    print(render(r))
    out = Path(args.out)
    out = out if out.is_absolute() else settings.home / out
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(r, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"\nresults: {path}")
    return 0
