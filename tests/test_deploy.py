"""Deployment: replicas sharing one index folder never build under each other's feet."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from dzqa.atomic import file_lock

HOLD = """
import sys, time
from pathlib import Path
from dzqa.atomic import file_lock
with file_lock(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_build_lock_holds_across_processes(tmp_path: Path) -> None:
    """A second process waits for the index build lock another process holds (fcntl, not a thread lock)."""
    lock = tmp_path / "index" / ".lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(lock), "1.5"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        start = time.monotonic()
        with file_lock(lock):
            waited = time.monotonic() - start
        assert waited >= 1.0, f"got the lock after {waited:.2f} s while another process held it"
    finally:
        holder.wait(timeout=10)


# ------------------------------------------------------------------- two replicas behind a real nginx

import os  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import threading  # noqa: E402
from collections import Counter  # noqa: E402
from typing import Any, Iterator  # noqa: E402

import httpx  # noqa: E402
import pytest  # noqa: E402

from web_support import free_port  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
PREFIX = "/zwbg"
TOKEN = "deploy-test-token"


def _nginx_conf(tmp: Path, port: int, upstreams: list[int]) -> Path:
    """docs/nginx.conf as the docs recommend it, with this test's ports, inside a minimal nginx.conf."""
    site = (ROOT / "docs" / "nginx.conf").read_text(encoding="utf-8")
    servers = re.findall(r"^\s*server 127\.0\.0\.1:\d+ .*;$", site, flags=re.M)
    assert len(servers) == 2, "docs/nginx.conf should name two replicas"
    for line, up in zip(servers, upstreams):
        site = site.replace(line, re.sub(r":\d+", f":{up}", line, count=1))
    site = re.sub(r"^(\s*)listen 80;$", rf"\1listen 127.0.0.1:{port};", site, flags=re.M)
    (tmp / "dzqa.conf").write_text(site, encoding="utf-8")
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers must reach the test's private folder
    main = (f"{user}worker_processes 1;\npid {tmp}/nginx.pid;\nerror_log {tmp}/error.log warn;\n"
            "events { worker_connections 1024; }\n"
            f"http {{\n access_log off;\n client_body_temp_path {tmp}/body;\n proxy_temp_path {tmp}/proxy;\n"
            f" fastcgi_temp_path {tmp}/fcgi;\n uwsgi_temp_path {tmp}/uwsgi;\n scgi_temp_path {tmp}/scgi;\n"
            f" include {tmp}/dzqa.conf;\n}}\n")
    (tmp / "nginx.conf").write_text(main, encoding="utf-8")
    return tmp / "nginx.conf"


def _wait(url: str, proc: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{proc.args} exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} did not come up")


class Cluster:
    def __init__(self, url: str, replicas: list[subprocess.Popen], ports: list[int], db_url: str) -> None:
        self.url, self.replicas, self.ports, self.db_url = url, replicas, ports, db_url


@pytest.fixture(scope="module")
def cluster(pg_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Two `dzqa serve` replicas (one index folder, built once; one PostgreSQL) behind nginx on a third port."""
    if not Path(NGINX).exists():
        pytest.fail("nginx not found: install Debian's nginx package (`make nginx`, run by `make test`)",
                    pytrace=False)
    tmp = tmp_path_factory.mktemp("deploy")
    db_url = pg_server.create_database()
    ports = [free_port(), free_port()]
    env = {**os.environ, "DZQA_DATABASE_URL": db_url, "DZQA_ROOT_PATH": PREFIX, "DZQA_TRUSTED_PROXIES": "127.0.0.1",
           "DZQA_ADMIN_TOKEN": TOKEN, "DZQA_BUILD": "never", "DZQA_RATE_LIMIT": "0"}
    replicas = []
    for i, port in enumerate(ports):
        log = open(tmp / f"replica{i}.log", "w")
        replicas.append(subprocess.Popen([sys.executable, "-m", "dzqa", "serve", "--port", str(port)], cwd=ROOT,
                                         env={**env, "DZQA_FEEDBACK_DB": str(tmp / f"var{i}" / "unused.sqlite3")},
                                         stdout=log, stderr=subprocess.PIPE, text=True))
    port = free_port()
    conf = _nginx_conf(tmp, port, ports)
    check = subprocess.run([NGINX, "-t", "-p", str(tmp), "-c", str(conf)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    nginx = subprocess.Popen([NGINX, "-p", str(tmp), "-c", str(conf), "-g", "daemon off;"],
                             stderr=subprocess.PIPE, text=True)
    try:
        for p, proc in zip(ports, replicas):
            _wait(f"http://127.0.0.1:{p}{PREFIX}/healthz", proc)
        _wait(f"http://127.0.0.1:{port}{PREFIX}/healthz", nginx)
        yield Cluster(f"http://127.0.0.1:{port}", replicas, ports, db_url)
    finally:
        for proc in replicas + [nginx]:
            if proc.poll() is None:
                proc.send_signal(signal.SIGQUIT if proc is nginx else signal.SIGTERM)
        for proc in replicas + [nginx]:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_the_site_and_the_api_work_through_nginx_under_a_sub_path(cluster: Cluster) -> None:
    with httpx.Client(base_url=cluster.url, timeout=30) as c:
        r = c.get(PREFIX)
        assert r.status_code == 301 and r.headers["location"].endswith(f"{PREFIX}/")
        r = c.get(f"{PREFIX}/")
        assert r.status_code == 200 and "德州" in r.text
        assert "dzqa_route" in c.cookies  # the routing cookie (a random id) keeps this browser on one replica
        for page in ("desk", "embed"):
            r = c.get(f"{PREFIX}/{page}")
            target = str(r.url.join(r.headers["location"]))
            assert r.status_code == 307 and target == f"{cluster.url}{PREFIX}/{page}/"  # stays under the sub-path
            assert c.get(target).status_code == 200
        r = c.post(f"{PREFIX}/api/ask", json={"question": "今年要新建多少所公办幼儿园？"})
        assert r.status_code == 200 and "38所" in r.json()["answer"]
        assert c.get(f"{PREFIX}/api/passages/2021/s6/p2").status_code == 200
        r = c.post(f"{PREFIX}/v1/chat/completions", json={"model": "dzqa-2021", "messages": [
            {"role": "user", "content": "农村公路今年修多少公里？"}]})
        assert r.status_code == 200 and "600公里" in r.json()["choices"][0]["message"]["content"]


def test_the_chat_and_the_desk_work_in_a_browser_through_nginx(cluster: Cluster) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            for visitor in range(3):  # fresh visitors: each gets its own routing cookie, so likely both replicas
                page = browser.new_context(locale="zh-CN").new_page()
                page.set_default_timeout(60_000)
                page.goto(f"{cluster.url}{PREFIX}/")
                box = page.locator("#dz-input textarea")
                for n, (question, fact) in enumerate([("今年要新建多少所公办幼儿园？", "38所"),
                                                      ("农村公路今年修多少公里？", "600公里")]):
                    box.fill(question)
                    box.press("Enter")
                    reply = page.locator(".dz-reply").nth(n)
                    reply.wait_for(state="visible")
                    assert fact in reply.inner_text()
                page.context.close()
            page = browser.new_context(locale="zh-CN").new_page()
            page.set_default_timeout(60_000)
            page.goto(f"{cluster.url}{PREFIX}/desk")
            box = page.locator("#dz-desk-q textarea, #dz-desk-q input").first
            box.fill("公办幼儿园")
            box.press("Enter")
            page.locator(".dz-hit").first.wait_for()
            assert "幼儿园" in page.locator(".dz-hit").first.inner_text()
        finally:
            browser.close()


QUESTIONS = ["今年要新建多少所公办幼儿园？", "农村公路今年修多少公里？", "今年招聘多少老师？", "德州明天天气怎么样",
             "城镇新增就业目标是多少"]


def test_2000_requests_from_32_clients_with_a_replica_killed_midway(cluster: Cluster) -> None:
    """No 5xx beyond the requests in flight on the killed replica (at most one per client), and every
    feedback row a client was told is saved is in the database."""
    total, clients = 2000, 32
    statuses: Counter[int] = Counter()
    saved: list[str] = []
    done = [0]
    lock = threading.Lock()
    killed = threading.Event()
    victim = cluster.replicas[1]

    def client(n: int) -> None:
        with httpx.Client(base_url=cluster.url, timeout=60) as c:  # its own cookie jar: its own replica
            c.get(f"{PREFIX}/healthz")
            i = 0
            while True:
                with lock:
                    if done[0] >= total:
                        return
                    done[0] += 1
                    if done[0] == total // 2:
                        victim.send_signal(signal.SIGKILL)  # a crash, not a clean stop
                        killed.set()
                if i % 2:
                    name = f"load-{n}-{i}"
                    try:
                        code = c.post(f"{PREFIX}/api/feedback", json={"question": name, "answer": "a",
                                                                       "citations": [], "rating": "up"}).status_code
                    except httpx.HTTPError:
                        code = 599
                    if code == 201:
                        with lock:
                            saved.append(name)
                else:
                    try:
                        code = c.post(f"{PREFIX}/api/ask",
                                      json={"question": QUESTIONS[(n + i) % len(QUESTIONS)]}).status_code
                    except httpx.HTTPError:
                        code = 599
                with lock:
                    statuses[code] += 1
                i += 1

    t0 = time.monotonic()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.monotonic() - t0
    print(f"\n2000 requests through nginx, one replica killed midway: {dict(statuses)} in {seconds:.1f} s "
          f"({total / seconds:.0f} requests/s)")
    assert killed.is_set() and victim.wait(timeout=10) == -signal.SIGKILL
    errors = sum(n for code, n in statuses.items() if code >= 500)
    assert errors <= clients, statuses  # only what was in flight on the replica that died
    assert statuses[200] + statuses[201] >= total - clients
    from dzqa.db import open_database

    stored = {r[0] for r in open_database(cluster.db_url).query("SELECT question FROM feedback WHERE question "
                                                                "LIKE 'load-%'")}
    assert set(saved) <= stored  # no acknowledged feedback row is lost
    assert len(stored) - len(saved) <= clients  # (a commit whose answer died with the replica may be there)
