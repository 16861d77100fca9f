"""Rate limiting: token buckets per client, X-Forwarded-For only from trusted proxies, 429 + Retry-After."""

from __future__ import annotations

import asyncio

import pytest

from dzqa.settings import Settings, SettingsError
from dzqa.web.limits import RateLimiter, RateLimitMiddleware, anonymise, bucket_key, client_address, counts


def test_bucket_allows_a_burst_then_asks_to_wait() -> None:
    now = [0.0]
    limiter = RateLimiter(60, clock=lambda: now[0])
    assert all(limiter.acquire("a") == 0.0 for _ in range(60))
    wait = limiter.acquire("a")
    assert 0.9 < wait <= 1.0
    assert limiter.acquire("b") == 0.0  # another client is not affected
    now[0] += 1.0
    assert limiter.acquire("a") == 0.0


def _scope(peer: str, xff: str | None = None, method: str = "POST", path: str = "/api/ask") -> dict:
    headers = [(b"x-forwarded-for", xff.encode())] if xff else []
    return {"type": "http", "method": method, "path": path, "client": (peer, 1234), "headers": headers}


def test_forwarded_for_is_honoured_only_from_trusted_proxies() -> None:
    proxies = Settings.from_env({"DZQA_TRUSTED_PROXIES": "10.0.0.1 192.168.0.0/16"}).trusted_proxy_networks
    assert client_address(_scope("203.0.113.9", "1.2.3.4"), proxies) == "203.0.113.9"  # spoof ignored
    assert client_address(_scope("10.0.0.1", "1.2.3.4"), proxies) == "1.2.3.4"
    # a client cannot hide behind a forged left-most entry: the right-most untrusted hop counts
    assert client_address(_scope("10.0.0.1", "6.6.6.6, 1.2.3.4, 192.168.1.7"), proxies) == "1.2.3.4"
    assert client_address(_scope("10.0.0.1"), proxies) == "10.0.0.1"
    with pytest.raises(SettingsError, match="not an IP"):  # a setting error: one line, before anything loads
        Settings.from_env({"DZQA_TRUSTED_PROXIES": "proxy.example"})


def test_only_work_counts() -> None:
    assert counts("POST", "/api/ask") and counts("GET", "/api/search") and counts("POST", "/gradio_api/queue/join")
    assert not counts("GET", "/") and not counts("GET", "/healthz") and not counts("GET", "/assets/x.js")
    # what the pages ask on their own (opening questions, clearing, completions) never costs a question
    assert not counts("POST", "/gradio_api/run/predict") and not counts("POST", "/embed/gradio_api/run/predict")
    assert not counts("GET", "/api/suggest") and counts("POST", "/embed/gradio_api/queue/join")


def test_buckets_are_pseudonyms_and_ipv6_shares_its_64() -> None:
    assert bucket_key("2001:db8:1:2::1") == bucket_key("2001:db8:1:2:ffff::9") != bucket_key("2001:db8:1:3::1")
    assert bucket_key("198.51.100.7") == bucket_key("::ffff:198.51.100.7") != bucket_key("198.51.100.8")
    assert "198.51.100.7" not in bucket_key("198.51.100.7")


def test_anonymise_is_stable_and_hides_the_address() -> None:
    assert anonymise("1.2.3.4") == anonymise("1.2.3.4") != anonymise("1.2.3.5")
    assert "1.2.3.4" not in anonymise("1.2.3.4")


def test_middleware_answers_429_with_retry_after() -> None:
    calls = []

    async def app(scope, receive, send):
        calls.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    mw = RateLimitMiddleware(app, per_minute=2)

    async def request(path: str = "/api/ask", method: str = "POST") -> tuple[int, dict]:
        sent = []

        async def send(msg):
            sent.append(msg)

        async def receive():
            return {"type": "http.request", "body": b""}

        await mw(_scope("198.51.100.1", method=method, path=path), receive, send)
        return sent[0]["status"], dict(sent[0].get("headers", []))

    results = [asyncio.run(request()) for _ in range(3)]
    assert [r[0] for r in results] == [200, 200, 429]
    assert int(results[2][1][b"retry-after"]) >= 1
    assert asyncio.run(request("/", "GET"))[0] == 200  # pages are never limited
    assert len(calls) == 3
