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


# ------------------------------------------------------------------- 8. elder mode and WCAG 2.1 AA

AXE = Path(__file__).resolve().parent.parent / ".cache" / "node" / "node_modules" / "axe-core" / "axe.min.js"

#: relative luminance contrast of an element's text (or its ::placeholder) against the first opaque
#: background behind it (WCAG 2.1 formula)
CONTRAST = """([sel, pseudo]) => {
    const el = document.querySelector(sel);
    const rgba = (s) => { const m = s.match(/[\\d.]+/g).map(Number); return [m[0], m[1], m[2], m.length > 3 ? m[3] : 1]; };
    const lum = ([r, g, b]) => { const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
                                 return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
    let bg = null;
    for (let e = el; e && !bg; e = e.parentElement) {
        const c = rgba(getComputedStyle(e).backgroundColor);
        if (c[3] > 0.99) bg = c;
    }
    bg = bg || [255, 255, 255, 1];
    const fg = rgba(getComputedStyle(el, pseudo || null).color);
    const mix = fg.slice(0, 3).map((v, i) => v * fg[3] + bg[i] * (1 - fg[3]));
    const [a, b] = [lum(mix), lum(bg)].sort((x, y) => y - x);
    return (a + 0.05) / (b + 0.05);
}"""

TARGETS = {"👍": "#dz-chat .message-buttons button:nth-of-type(2)", "👎": "#dz-chat .message-buttons button:nth-of-type(1)",
           "🗑": "#dz-chat .top-panel button", "清空对话": "#dz-clear", "大字": ".dz-elder-toggle",
           "发送": "#dz-send"}


def elder_on(page: Any) -> None:
    if not page.evaluate("document.documentElement.classList.contains('dz-elder')"):
        page.locator(".dz-elder-toggle").click()
    page.wait_for_timeout(400)  # colour transitions
    # and every transition finished (a loaded machine has measured text mid-way: 16.7px on the way to 18px)
    page.wait_for_function("() => document.documentElement.classList.contains('dz-elder') && document.getAnimations()"
                           ".filter(a => a instanceof CSSTransition).every(a => a.playState !== 'running')")


def axe_violations(page: Any) -> list[dict[str, Any]]:
    if not AXE.exists():
        pytest.fail(f"axe-core is missing: run `make axe` (installs it into {AXE.parent.parent.parent})")
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    return page.evaluate("""async () => (await axe.run(document, {resultTypes: ['violations']})).violations
        .filter(v => v.impact === 'serious' || v.impact === 'critical')
        .map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ': ' + n.failureSummary)}))""")


@pytest.mark.parametrize("path, answered, elder", [
    ("/", False, False), ("/", True, False), ("/", True, True), ("/embed", False, False), ("/embed", True, True),
    ("/embed?theme=dark", True, False), ("/embed?theme=dark&elder=1", True, True), ("/desk", False, False),
    ("/desk#纠错", False, False), ("/reader", False, False)])
def test_axe_finds_no_serious_or_critical_violation(open_page, path, answered, elder) -> None:
    page = open_page(path, width=1100 if not path.startswith("/embed") else 400, height=900 if "embed" not in path else 600)
    if path.startswith("/desk"):
        page.locator("#dz-desk-q").wait_for()
        if path.endswith("#纠错"):  # the corrections tab, with its form filled from a search
            page.get_by_role("tab", name="纠错").click()
            page.locator("#dz-cur-q textarea, #dz-cur-q input").first.fill("公办幼儿园")
            page.locator("#dz-cur-find").click()
            page.locator("#dz-cur-picks input[type=checkbox]").first.wait_for()
    elif path != "/reader":
        chat_input(page)
    if answered:
        reply = ask(page, "今年要新建多少所公办幼儿园？")
        reply.locator(".dz-cite summary").first.click()
        page.locator("#dz-chat").get_by_role("button", name="踩", exact=True).click()
        page.locator("#dz-reason").wait_for(state="visible")
    if elder:
        elder_on(page)
    page.wait_for_timeout(500)
    assert axe_violations(page) == []


@pytest.mark.parametrize("elder", [False, True], ids=["normal", "elder"])
def test_contrast_of_send_and_placeholder(open_page, elder) -> None:
    for path in ("/", "/embed", "/embed?theme=dark"):
        page = open_page(path)
        chat_input(page)
        if elder:
            elder_on(page)
        page.wait_for_timeout(300)
        for sel, pseudo in (("#dz-send", None), ("#dz-input textarea", "::placeholder"), (".dz-privacy", None)):
            ratio = page.evaluate(CONTRAST, [sel, pseudo])
            assert ratio >= 4.5, (path, sel, pseudo, round(ratio, 2))


@pytest.mark.parametrize("elder", [False, True], ids=["normal", "elder"])
def test_targets_are_at_least_44_px(open_page, elder) -> None:
    for path in ("/", "/embed"):
        page = open_page(path, width=360, height=740)
        ask(page, "今年招聘多少老师？")
        if elder:
            elder_on(page)
        for name, sel in TARGETS.items():
            r = page.evaluate(RECT, sel)
            assert r is not None, (path, name)
            assert r["w"] >= 44 and r["h"] >= 44, (path, name, r)


#: every visible element that holds text of its own: font size and line height
TEXT_SIZES = """() => {
    const out = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const seen = new Set();
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        const el = n.parentElement;
        if (!n.nodeValue.trim() || !el || seen.has(el)) continue;
        seen.add(el);
        if (el.closest('script, style, svg, [aria-hidden="true"], .sr-only, .hidden, .hide, [hidden]')) continue;
        const r = el.getBoundingClientRect();
        const cs = getComputedStyle(el);
        if (!r.width || !r.height || cs.visibility === 'hidden' || cs.display === 'none' || el.checkVisibility && !el.checkVisibility()) continue;
        const size = parseFloat(cs.fontSize);
        const lh = cs.lineHeight === 'normal' ? 1.2 : parseFloat(cs.lineHeight) / size;
        out.push({text: n.nodeValue.trim().slice(0, 30), tag: el.tagName, cls: String(el.className).slice(0, 40), size, lh});
    }
    return out;
}"""


@pytest.mark.parametrize("path", ["/", "/embed"])
def test_elder_mode_text_is_18px_with_line_height_1_3(open_page, path) -> None:
    page = open_page(path, width=1100, height=900)
    reply = ask(page, "今年要新建多少所公办幼儿园？")
    reply.locator(".dz-cite summary").first.click()
    page.locator("#dz-chat").get_by_role("button", name="踩", exact=True).click()
    page.locator("#dz-reason").wait_for(state="visible")
    elder_on(page)
    small = [t for t in page.evaluate(TEXT_SIZES) if t["size"] < 18 or t["lh"] < 1.3]
    assert small == [], "; ".join(f"{t['tag']}.{t['cls']} {t['text']!r} {t['size']}px×{t['lh']:.2f}" for t in small)


@pytest.mark.parametrize("path, width, height", [("/", 360, 740), ("/", 320, 568), ("/embed", 360, 640)])
def test_elder_toggle_is_above_the_fold_on_a_phone(open_page, path, width, height) -> None:
    page = open_page(path, width=width, height=height)
    chat_input(page)
    # the toggle is added by the page's script, which may run after the input is ready (seen on a loaded machine)
    page.locator(".dz-elder-toggle").wait_for(state="visible")
    r = page.evaluate(RECT, ".dz-elder-toggle")
    assert r["y"] >= 0 and r["y"] + r["h"] <= height and r["x"] + r["w"] <= width
    assert page.evaluate(ON_TOP, ".dz-elder-toggle")


def test_input_has_a_visible_focus_indicator(open_page) -> None:
    page = open_page("/embed")
    box = chat_input(page)
    ring = """() => { const t = document.querySelector('#dz-input textarea'); const cs = getComputedStyle(t);
                       const w = getComputedStyle(t.closest('#dz-input'));
                       return [cs.outlineStyle, parseFloat(cs.outlineWidth), cs.outlineColor, cs.boxShadow, w.boxShadow]; }"""
    before = page.evaluate(ring)
    page.locator("body").click(position={"x": 5, "y": 5})
    box.focus()
    assert page.evaluate("document.activeElement === document.querySelector('#dz-input textarea')")
    style, width, color, shadow, outer = page.evaluate(ring)
    assert style not in ("none", "hidden") and width >= 2, (style, width)
    assert (style, width, color) != tuple(before[:3])
    shot(page, "focus.png")


#: English words a screen reader would read out in the Chinese page (Gradio's own labels), or markup
LATIN = re.compile(r"[A-Za-z]{2,}|<")


def accessible_names(page: Any) -> list[tuple[str, str]]:
    """(role, name) of every node of the page's accessibility tree, iframes' trees excluded."""
    cdp = page.context.new_cdp_session(page)
    nodes = cdp.send("Accessibility.getFullAXTree")["nodes"]
    out = []
    for n in nodes:
        if n.get("ignored"):
            continue
        role = (n.get("role") or {}).get("value", "")
        name = (n.get("name") or {}).get("value", "")
        out.append((role, str(name)))
    return out


@pytest.mark.parametrize("path", ["/", "/embed"])
def test_controls_and_messages_have_chinese_names_without_markup(browser, server, path) -> None:
    # an English browser: Gradio would label its controls in English ("Textbox", "Like", "Dislike")
    ctx = browser.new_context(viewport={"width": 1100, "height": 900}, locale="en-US")
    try:
        page = ctx.new_page()
        page.goto(server.url + path)
        chat_input(page)
        reply = ask(page, "今年要新建多少所公办幼儿园？")
        reply.locator(".dz-cite summary").first.click()
        page.wait_for_timeout(500)
        labels = page.evaluate("[...document.querySelectorAll('[aria-label], [title], [placeholder]')]"
                               ".flatMap(e => ['aria-label', 'title', 'placeholder'].map(a => e.getAttribute(a)).filter(Boolean))")
        bad = [v for v in labels if LATIN.search(v.replace("Shift", ""))]
        assert bad == [], bad
        names = accessible_names(page)
        controls = [(r, n) for r, n in names if r in ("button", "textbox", "log", "link", "radio", "checkbox", "tab")]
        assert controls and all(n.strip() for r, n in controls), controls
        english = [(r, n) for r, n in names if r not in ("StaticText", "InlineTextBox", "RootWebArea") and LATIN.search(n.replace("Shift", ""))]
        assert english == [], english
        messages = page.locator("#dz-chat [data-testid='bot'], #dz-chat [data-testid='user']")
        assert messages.count() == 2
        assert messages.nth(0).get_attribute("aria-label") == "您的问题：今年要新建多少所公办幼儿园？"
        bot = messages.nth(1).get_attribute("aria-label")
        assert bot.startswith("助手的回答：") and "新建扩建公办幼儿园38所" in bot
        assert page.get_by_role("textbox", name="您的问题").count() == 1
        assert page.locator("#dz-chat").get_by_role("button", name="赞", exact=True).count() == 1
        assert page.locator("#dz-chat").get_by_role("button", name="踩", exact=True).count() == 1
    finally:
        ctx.close()


# ------------------------------------------------------------------------------- 9. citation markers

IN_CHAT_VIEW = """(el) => { const c = document.querySelector('#dz-chat [role="log"]') || document.querySelector('#dz-chat');
                           const a = el.getBoundingClientRect(), b = c.getBoundingClientRect();
                           return [a.top >= b.top - 2 && a.top < b.bottom && a.top < innerHeight, a.top, b.top, b.bottom]; }"""


@pytest.mark.parametrize("how", ["mouse", "Enter", "Space"])
def test_citation_marker_opens_and_scrolls_to_its_paragraph(open_page, how) -> None:
    page = open_page("/embed", width=400, height=600)
    reply = ask(page, "医疗方面今年有什么安排？")
    marks = reply.locator(".dz-mark")
    n = marks.count()
    assert n >= 1
    last = marks.nth(n - 1)
    number = last.inner_text().strip("[]")
    block = reply.locator(f"details.dz-c{number}")
    assert block.evaluate("d => d.open") is False
    if how == "mouse":
        last.click()
    else:  # reachable by Tab (a real button) and activated from the keyboard
        assert last.evaluate("b => b.tagName === 'BUTTON' && b.tabIndex >= 0")
        last.focus()
        page.keyboard.press(how)
    page.wait_for_function("d => d.open", arg=block.element_handle())
    page.wait_for_timeout(700)  # the Chatbot's own autoscroll has usually run by then
    try:  # under load it may run later; the page reveals the block again while it is out of view
        page.wait_for_function(f"(el) => ({IN_CHAT_VIEW})(el)[0]", arg=block.element_handle(), timeout=4000)
    except Exception:
        pass
    seen = block.evaluate(IN_CHAT_VIEW)
    assert seen[0], f"the cited paragraph was not scrolled into view: {seen}"
    assert page.evaluate("document.activeElement.tagName") == "SUMMARY"  # focus moved to the paragraph
    others = [reply.locator("details.dz-cite").nth(i).evaluate("d => d.open") for i in range(reply.locator("details.dz-cite").count())]
    assert sum(others) == 1  # only the cited block opened


# ---------------------------------------------------------------- 10. a way forward, honest wording


def test_every_answer_ends_with_a_tappable_hotline_link(open_page) -> None:
    page = open_page("/")
    for q in ("今年要新建多少所公办幼儿园？", "你好", "德州明天天气怎么样"):
        reply = ask(page, q)
        said = reply.locator(".dz-said")
        last = said.nth(said.count() - 1)
        link = last.locator("a[href='tel:12345']")
        assert link.count() == 1 and link.inner_text() == "12345", q
        assert link.get_attribute("target") is None  # a call, not a new tab
        r = link.bounding_box()
        assert r["width"] > 0 and r["height"] > 0


def test_thumbs_down_takes_a_free_text_reason(open_page, server) -> None:
    page = open_page("/")
    question = "今年城镇新增就业多少人？（意见）"
    ask(page, question)
    page.locator("#dz-chat").get_by_role("button", name="踩", exact=True).click()
    box = page.locator("#dz-comment textarea")
    box.wait_for(state="visible")
    assert box.get_attribute("maxlength") == "200"
    box.fill("我想知道灵活就业人员有什么补贴")
    page.locator("#dz-comment-send").click()
    page.locator("#dz-status").get_by_text("已记录您写的原因").wait_for()
    box.wait_for(state="hidden")
    assert rows(server, f"SELECT rating, reason, comment FROM feedback WHERE question = '{question}'") == \
        [("down", "其他", "我想知道灵活就业人员有什么补贴")]


def test_pages_call_the_summary_what_it_is(open_page) -> None:
    for path in ("/", "/embed", "/reader", "/desk"):
        page = open_page(path)
        if path in ("/reader", "/desk"):
            # the page has rendered its text: a loaded machine takes longer than any fixed pause ("加载中...")
            page.wait_for_function("() => document.body.innerText.includes('摘要')")
        else:
            page.wait_for_timeout(1500)
        if path in ("/", "/embed"):
            reply = ask(page, "今年要新建多少所公办幼儿园？")
            reply.locator(".dz-cite summary").first.click()
        text = page.locator("body").inner_text()
        assert "原文" not in text, (path, text[text.find("原文") - 20:text.find("原文") + 10])
        assert "摘要" in text, path
