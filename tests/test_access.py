"""Citizens' access (issue 12, points 6–10), in headless Chromium: the embed fits its frame, elder mode and
WCAG 2.1 AA (contrast, target sizes, text size, focus, Chinese accessible names, axe-core), citation markers
that open their paragraph, the hotline link, free-text 👎 reasons, the privacy notice.

The server, the city's page of another origin and the browser are those of ``test_browser.py``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from test_browser import (ARTIFACTS, CHROMIUM, ask, browser, chat_input, city, open_page, rows,  # noqa: F401
                          server, shot)

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (make browser)")

PRIVACY = "问题会被记录用于改进服务，请勿输入身份证号、电话等个人信息"

RECT = """(sel) => { const e = document.querySelector(sel); if (!e) return null;
                     const r = e.getBoundingClientRect(); return {x: r.x, y: r.y, w: r.width, h: r.height}; }"""
#: the element really drawn at the centre of ``sel`` is ``sel`` or inside it (not covered, not clipped away)
ON_TOP = """(sel) => { const e = document.querySelector(sel); const r = e.getBoundingClientRect();
                       const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
                       return !!hit && (e.contains(hit) || hit.contains(e)); }"""


# ------------------------------------------------------------------------------------ 7. embed fits


def embed_page(city: Any, server: Any, width: int, height: int, elder: bool) -> str:
    """A page of the city's site (another origin) with the documented iframe snippet at this size."""
    name = f"/frame-{width}x{height}{'-elder' if elder else ''}.html"
    src = f"{server.url}/embed?theme=light" + ("&elder=1" if elder else "")
    city.pages[name] = ("<!doctype html><html lang='zh-CN'><meta charset='utf-8'><title>德州市人民政府</title>"
                        "<body style='margin:0'>"
                        f'<iframe src="{src}" title="德州市政府工作报告问答" width="{width}" height="{height}" '
                        'style="border:0;display:block"></iframe></body></html>')
    return name


@pytest.mark.parametrize("width, height", [(400, 600), (360, 640)])
@pytest.mark.parametrize("elder", [False, True], ids=["normal", "elder"])
def test_embed_shows_the_input_and_send_without_scrolling(open_page, city, server, width, height, elder) -> None:
    page = open_page(embed_page(city, server, width, height, elder), width=width + 40, height=height + 100,
                     base=city.url)
    frame_el = page.locator("iframe")
    inner = page.frames[1]
    chat_input(inner)
    inner.wait_for_timeout(300)  # Gradio's layout settles
    assert inner.evaluate("document.documentElement.classList.contains('dz-elder')") == elder

    def check(when: str) -> None:
        box = frame_el.bounding_box()
        assert box["width"] == width and box["height"] == height
        for sel in ("#dz-input textarea", "#dz-send", ".dz-elder-toggle", ".dz-privacy"):
            r = inner.evaluate(RECT, sel)
            assert r is not None, sel
            # positions inside the frame's viewport: fully visible without scrolling the frame
            assert r["x"] >= 0 and r["y"] >= 0, (when, sel, r)
            assert r["x"] + r["w"] <= width + 0.5 and r["y"] + r["h"] <= height + 0.5, (when, sel, r)
            assert inner.evaluate(ON_TOP, sel), (when, sel, "covered")
        assert inner.evaluate("document.scrollingElement.scrollTop") == 0, when
        assert inner.evaluate("document.documentElement.scrollWidth") <= width, when

    check("empty chat")
    reply = ask(inner, "今年要新建多少所公办幼儿园？")
    reply.locator(".dz-cite summary").first.click()
    inner.wait_for_timeout(300)
    check("after an answer")
    shot(page, f"embed-{width}x{height}{'-elder' if elder else ''}.png")


# ------------------------------------------------------------------------------ 6. privacy notice


@pytest.mark.parametrize("path", ["/", "/embed"])
def test_privacy_notice_is_visible_on_the_chat(open_page, path) -> None:
    page = open_page(path, width=360, height=740)
    chat_input(page)
    notice = page.locator(".dz-privacy")
    assert notice.inner_text().strip() == PRIVACY and notice.is_visible()
