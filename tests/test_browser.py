"""The web pages as a person uses them, in headless Chromium (Debian's, driven by playwright).

One real server for the module (uvicorn in a thread, sharing the session's engine), a page of another
origin that embeds the chat in an iframe, and a reverse proxy for the sub-path deployment. Every
browser context refuses and records requests that leave this machine: the pages must work offline.
Screenshots go to tests/artifacts/ (git-ignored) for a person to look at.
"""

from __future__ import annotations

import csv
import io
import shutil
import sqlite3
from pathlib import Path
from typing import Any, Iterator

import pytest

from dzqa.engine import Engine
from dzqa.settings import Settings
from dzqa.web.server import create_app
from web_support import LiveServer, static_site, strip_prefix_proxy

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
TIMEOUT = 30_000
LOCAL = ("http://127.0.0.1:", "data:", "blob:", "about:")

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (make browser)")


# ------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def city() -> Iterator[Any]:
    """The city's website: another origin (another port), its pages filled in once the server is known."""
    pages: dict[str, str] = {}
    with static_site(pages) as site:
        site.pages = pages
        yield site


ADMIN_TOKEN = "desk-s3cret"


@pytest.fixture(scope="module")
def server(engine: Engine, settings: Settings, city: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    db = tmp_path_factory.mktemp("browser") / "feedback.sqlite3"
    s = settings.replace(feedback_db=db, frame_ancestors=f"'self' {city.url}", admin_token=ADMIN_TOKEN)
    with LiveServer(create_app(engine, s)) as live:
        live.db = db
        frame = '<iframe src="{src}/embed?theme=light" title="问答" width="400" height="600" style="border:1px solid #ccc"></iframe>'
        city.pages["/city.html"] = ("<!doctype html><html lang='zh-CN'><meta charset='utf-8'><title>德州市人民政府</title>"
                                    "<body style='margin:8px;font-family:sans-serif'><h3>德州市人民政府 · 政策问答</h3>"
                                    + frame.format(src=live.url) + "</body></html>")
        yield live


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def open_page(browser: Any, server: Any) -> Iterator[Any]:
    """``open_page(path, width=, height=)``: a fresh context (no shared cookies or storage) and page."""
    contexts: list[Any] = []
    outside: list[str] = []

    def guard(route: Any) -> None:  # nothing may be fetched from the internet
        if route.request.url.startswith(LOCAL):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    def open_(path: str = "/", width: int = 1100, height: int = 900, base: str | None = None) -> Any:
        ctx = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
        ctx.route("**/*", guard)
        ctx.set_default_timeout(TIMEOUT)
        contexts.append(ctx)
        page = ctx.new_page()
        page.dialogs = []
        page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
        page.goto((base or server.url) + path)
        return page

    yield open_
    for ctx in contexts:
        ctx.close()
    assert outside == [], f"pages tried to reach the internet: {outside}"


def chat_input(page_or_frame: Any) -> Any:
    box = page_or_frame.locator("#dz-input textarea")
    box.wait_for(state="visible")
    return box


def ask(page_or_frame: Any, question: str) -> Any:
    """Type a question, press Enter, and wait for its reply; returns the reply element."""
    before = page_or_frame.locator(".dz-reply").count()
    box = chat_input(page_or_frame)
    box.fill(question)
    box.press("Enter")
    reply = page_or_frame.locator(".dz-reply").nth(before)
    reply.wait_for(state="visible")
    return reply


def rows(server: Any, sql: str) -> list[tuple]:
    with sqlite3.connect(server.db) as conn:
        return conn.execute(sql).fetchall()


def shot(page: Any, name: str, full_page: bool = False) -> None:
    page.screenshot(path=str(ARTIFACTS / name), full_page=full_page)


# -------------------------------------------------------------------------------------------- chat


def test_enter_sends_and_the_answer_is_cited(open_page) -> None:
    page = open_page("/")
    assert chat_input(page).get_attribute("placeholder").startswith("请输入您的问题")
    assert "德州市政府工作报告" in page.title()
    assert page.get_by_text("今年要新建多少所公办幼儿园？").count() >= 1  # example questions, in Chinese
    shot(page, "chat-welcome.png")
    reply = ask(page, "今年要新建多少所公办幼儿园？")
    assert "新建扩建公办幼儿园38所" in reply.locator(".dz-text").inner_text()
    assert reply.locator(".dz-mark").first.inner_text() == "[1]"
    summary = reply.locator(".dz-cite summary").first.inner_text()
    assert "《2021年德州市政府工作报告》第六部分" in summary and "第2段" in summary
    reply.locator(".dz-cite summary").first.click()
    block = reply.locator(".dz-cite").first
    assert "文件" in block.inner_text() and "部分" in block.inner_text() and "段落" in block.inner_text()
    # the answer clause is highlighted inside the quoted paragraph
    assert "新建扩建公办幼儿园38所" in block.locator("mark.dz-hl").first.inner_text()
    assert "实施教育提升工程" in block.locator(".dz-quote").inner_text()
    shot(page, "chat.png")
    assert page.evaluate("document.cookie") == "" and page.context.cookies() == []  # nothing needs cookies


def test_citation_link_opens_the_reader_at_the_paragraph(open_page) -> None:
    page = open_page("/")
    reply = ask(page, "农村公路今年修多少公里？")
    reply.locator(".dz-cite summary").first.click()
    link = reply.locator("a.dz-open").first
    with page.context.expect_page() as new:
        link.click()
    reader = new.value
    reader.wait_for_load_state()
    assert reader.url.endswith("/reader#p-2021-s3-p2")
    target = reader.locator(":target")
    assert target.get_attribute("id") == "p-2021-s3-p2" and "新建改造农村公路600公里" in target.inner_text()
    top = reader.evaluate("document.getElementById('p-2021-s3-p2').getBoundingClientRect().top")
    assert 0 <= top < reader.viewport_size["height"] / 2  # scrolled to it
    assert page.locator(".dz-reply").count() == 1  # the chat stays where it was
    shot(reader, "reader.png")


def test_follow_up_question_is_read_with_the_previous_one(open_page) -> None:
    page = open_page("/")
    ask(page, "城市里的路今年怎么修？")
    reply = ask(page, "那农村呢？")
    assert "新建改造农村公路600公里" in reply.inner_text()
    assert "第三部分" in reply.locator(".dz-cite summary").first.inner_text()


def test_example_question_is_asked_by_a_click(open_page) -> None:
    page = open_page("/")
    page.get_by_text("农村公路今年修多少公里？").first.click()
    reply = page.locator(".dz-reply").first
    reply.wait_for()
    assert "600公里" in reply.inner_text()


def test_follow_up_chips_under_an_answer_ask_the_next_topic(open_page, engine) -> None:
    question = "今年要新建多少所公办幼儿园？"
    related = engine.ask(question).related
    page = open_page("/")
    ask(page, question)
    chip = page.get_by_role("button", name=related[0].text, exact=True)
    chip.wait_for()
    for topic in related:
        assert page.get_by_role("button", name=topic.text, exact=True).count() == 1
    shot(page, "chips.png")
    chip.focus()
    page.keyboard.press("Enter")  # a chip is a button: the keyboard asks it too
    second = page.locator(".dz-reply").nth(1)
    second.wait_for()
    paragraph = engine.paragraph(related[0].paragraph_id)
    assert related[0].text in second.inner_text() and second.locator(".dz-cite").count() >= 1
    assert f"第{paragraph.number}段" in second.locator(".dz-cite summary").first.inner_text()  # that paragraph


def test_refusal_suggests_the_hotline(open_page) -> None:
    page = open_page("/")
    reply = ask(page, "德州明天天气怎么样")
    assert "没有找到" in reply.inner_text() and "12345" in reply.inner_text()
    assert reply.locator("a[href='tel:12345']").count() == 1 and reply.locator(".dz-cite").count() == 0


def test_thumbs_up_is_stored_on_the_server(open_page, server) -> None:
    page = open_page("/")
    ask(page, "今年城镇新增就业多少人？")
    page.locator("#dz-chat").get_by_role("button", name="赞", exact=True).click()  # Gradio's zh-CN labels
    page.locator("#dz-status").get_by_text("感谢您的评价").wait_for()
    found = rows(server, "SELECT rating, reason, answer, citations, channel FROM feedback "
                         "WHERE question = '今年城镇新增就业多少人？'")
    assert len(found) == 1
    rating, reason, answer, citations, channel = found[0]
    assert rating == "up" and reason is None and "5.1万人" in answer and "2021/s6/p1" in citations
    assert channel == "chat"


def test_thumbs_down_with_a_reason(open_page, server) -> None:
    page = open_page("/")
    ask(page, "今年地区生产总值增长目标是多少？")
    page.locator("#dz-chat").get_by_role("button", name="踩", exact=True).click()
    picker = page.locator("#dz-reason")
    picker.wait_for(state="visible")
    assert rows(server, "SELECT rating FROM feedback WHERE question = '今年地区生产总值增长目标是多少？'") == [("down",)]
    picker.get_by_text("引用错误").click()
    page.locator("#dz-status").get_by_text("已记录原因：引用错误").wait_for()
    picker.wait_for(state="hidden")
    assert rows(server, "SELECT rating, reason FROM feedback WHERE question = '今年地区生产总值增长目标是多少？'") \
        == [("down", "引用错误")]


@pytest.mark.parametrize("clear_button, tag", [("#dz-clear", "(A)"), ("#dz-chat button[aria-label='清空对话']", "(B)")])
def test_rating_after_clearing_rates_the_new_answer(open_page, server, clear_button, tag) -> None:
    page = open_page("/")
    ask(page, "今年要新建多少所公办幼儿园？")
    page.locator(clear_button).click()  # ours, or the Chatbot's own 🗑
    page.locator(".dz-reply").first.wait_for(state="detached")
    question = f"老百姓收入今年能涨多少？{tag}"
    ask(page, question)
    page.locator("#dz-chat").get_by_role("button", name="赞", exact=True).click()
    page.locator("#dz-status").get_by_text("感谢您的评价").wait_for()
    assert rows(server, f"SELECT question FROM feedback WHERE question LIKE '老百姓收入%{tag}'") == [(question,)]


def test_xss_question_is_shown_as_text(open_page) -> None:
    page = open_page("/")
    hostile = "<img src=x onerror=alert(1)>"
    ask(page, hostile)
    ask(page, "${alert(2)} {{7*7}} <script>alert(3)</script>")
    questions = page.locator(".dz-q")
    assert questions.nth(0).inner_text() == hostile
    assert questions.nth(1).inner_text() == "${alert(2)} {{7*7}} <script>alert(3)</script>"
    page.wait_for_timeout(300)
    assert page.locator("#dz-chat img").count() == 0 and page.locator("#dz-chat script").count() == 0
    assert page.dialogs == []


def test_ime_composition_enter_does_not_send(open_page) -> None:
    page = open_page("/")
    box = chat_input(page)
    box.click()
    cdp = page.context.new_cdp_session(page)
    cdp.send("Input.imeSetComposition", {"text": "chengshi", "selectionStart": 8, "selectionEnd": 8})
    page.keyboard.press("Enter")  # confirms a candidate in the IME: must not send
    page.wait_for_timeout(800)
    assert page.locator(".dz-reply").count() == 0 and page.locator(".dz-q").count() == 0
    cdp.send("Input.insertText", {"text": "城市里的路今年怎么修？"})  # the IME commits the text
    assert box.input_value() == "城市里的路今年怎么修？"
    page.keyboard.press("Enter")  # now Enter sends
    page.locator(".dz-reply").first.wait_for()
    assert page.locator(".dz-q").first.inner_text() == "城市里的路今年怎么修？"

    # Browsers whose IME delivers the confirming Enter as a key event while composing (isComposing, or
    # keyCode 229 after compositionend as in Safari): the page's own guard must stop it. A plain
    # synthetic Enter keypress sends (the control), the same during a composition does not.
    press = """([composing, code229]) => {
        const t = document.querySelector('#dz-input textarea');
        if (composing) t.dispatchEvent(new CompositionEvent('compositionstart', {bubbles: true}));
        for (const type of ['keydown', 'keypress']) {
            const e = new KeyboardEvent(type, {key: 'Enter', bubbles: true, cancelable: true, isComposing: composing});
            if (code229) Object.defineProperty(e, 'keyCode', {get: () => 229});
            t.dispatchEvent(e);
        }
        if (composing) t.dispatchEvent(new CompositionEvent('compositionend', {bubbles: true}));
    }"""
    for composing, code229 in ((True, False), (False, True)):
        box.fill("今年招聘多少老师？")
        page.evaluate(press, [composing, code229])
        page.wait_for_timeout(800)
        assert page.locator(".dz-reply").count() == 1, (composing, code229)
    page.evaluate(press, [False, False])
    page.locator(".dz-reply").nth(1).wait_for()
    # Shift+Enter is a new line, not a send
    box.fill("第一行")
    box.press("Shift+Enter")
    box.type("第二行")
    page.wait_for_timeout(500)
    assert box.input_value() == "第一行\n第二行" and page.locator(".dz-reply").count() == 2


def test_phone_width_360(open_page) -> None:
    page = open_page("/", width=360, height=740)
    reply = ask(page, "今年要新建多少所公办幼儿园？")
    reply.locator(".dz-cite summary").first.click()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scrolling
    box = reply.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 360 and box["width"] > 250
    send = page.locator("#dz-send").bounding_box()
    assert send["x"] + send["width"] <= 360
    shot(page, "chat-360.png")


def test_elder_mode_toggles_large_text(open_page) -> None:
    page = open_page("/")
    ask(page, "今年招聘多少老师？")
    size = lambda: page.evaluate("parseFloat(getComputedStyle(document.querySelector('.dz-reply')).fontSize)")
    normal = size()
    toggle = page.locator(".dz-elder-toggle")
    toggle.click()
    assert page.evaluate("document.documentElement.classList.contains('dz-elder')")
    assert toggle.get_attribute("aria-pressed") == "true" and size() >= normal * 1.2
    page.wait_for_timeout(400)  # the button's colour transition
    shot(page, "chat-elder.png")
    toggle.click()
    assert toggle.get_attribute("aria-pressed") == "false" and size() == normal


# -------------------------------------------------------------------------------------------- embed


def test_embed_inside_an_iframe_of_another_origin(open_page, city, server) -> None:
    page = open_page("/city.html", width=480, height=700, base=city.url)
    frame = page.frame_locator("iframe")
    reply = ask(frame, "今年要新建多少所公办幼儿园？")
    assert "新建扩建公办幼儿园38所" in reply.inner_text()
    assert frame.locator(".dz-header").count() == 0  # the chat alone
    inner = page.frames[1]
    assert inner.url.startswith(server.url + "/embed/") and inner.evaluate("document.documentElement.scrollWidth") <= 400
    assert page.context.cookies() == []
    shot(page, "embed.png")


def test_embed_is_refused_to_origins_not_listed(open_page, server) -> None:
    other: dict[str, str] = {}
    with static_site(other) as stranger:
        other["/x.html"] = f'<!doctype html><iframe src="{server.url}/embed/" width="400" height="600"></iframe>'
        page = open_page("/x.html", base=stranger.url)
        page.wait_for_load_state("load")  # the iframe has loaded (or failed) by then
        assert page.frames[1].url == "chrome-error://chromewebdata/"  # Chromium refused to frame it


def test_embed_dark_theme(open_page) -> None:
    page = open_page("/embed?theme=dark", width=400, height=600)
    ask(page, "今年招聘多少老师？")
    assert "dark" in page.evaluate("document.body.className")
    shot(page, "embed-dark.png")


def test_works_behind_a_reverse_proxy_under_a_sub_path(open_page, engine, settings, tmp_path) -> None:
    s = settings.replace(feedback_db=tmp_path / "fb.sqlite3", root_path="/dzqa")
    with LiveServer(create_app(engine, s)) as live, strip_prefix_proxy("/dzqa", live.port) as proxy:
        page = open_page("/dzqa/embed", base=proxy.url)
        assert page.url == proxy.url + "/dzqa/embed/"
        reply = ask(page, "农村公路今年修多少公里？")
        assert "600公里" in reply.inner_text()
        href = reply.locator("a.dz-open").first.evaluate("a => a.href")
        assert href == proxy.url + "/dzqa/reader#p-2021-s3-p2"
        reader = open_page("/dzqa/reader#p-2021-s3-p2", base=proxy.url)
        assert reader.locator(":target").get_attribute("id") == "p-2021-s3-p2"


# --------------------------------------------------------------------------------------------- desk


def desk_search(page: Any, query: str) -> Any:
    box = page.locator("#dz-desk-q textarea, #dz-desk-q input").first
    box.fill(query)
    box.press("Enter")
    page.locator(".dz-hit").first.wait_for()
    return page.locator(".dz-hit")


def test_desk_search_shows_passages_and_copies_a_cited_reply(open_page, server, browser) -> None:
    page = open_page("/desk")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    hits = desk_search(page, "公办幼儿园")
    assert hits.count() == 5 and page.locator(".dz-reply").count() == 0  # passages, not a chat answer
    first = hits.first
    assert "第六部分" in first.locator(".dz-label").inner_text() and "综合得分" in first.inner_text()
    assert "幼儿园" in first.locator("mark.dz-term").all_inner_texts()
    first.locator(".dz-copy").click()
    playwright_api.expect(first.locator(".dz-copy")).to_have_text("已复制")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("根据《2021年德州市政府工作报告》第六部分 聚焦基本公共服务需求 坚定不移增进民生福祉 第2段：")
    assert copied.endswith("解决不平衡不充分问题等。") and "新建扩建公办幼儿园38所" in copied
    shot(page, "desk.png", full_page=True)

    # the section filter
    page.locator("#dz-desk-section input").click()
    page.get_by_role("option", name="第三部分", exact=False).first.click()
    page.wait_for_function("[...document.querySelectorAll('.dz-hit .dz-label')].every(e => e.textContent.includes('第三部分'))")
    assert all("第三部分" in t for t in page.locator(".dz-hit .dz-label").all_inner_texts())


def test_desk_reader_tab_has_paragraph_anchors(open_page, engine) -> None:
    page = open_page("/desk")
    page.get_by_role("tab", name="报告摘要").click()  # the corpus is a published summary
    reader = page.locator("#dz-reader")
    reader.locator(".dz-para").first.wait_for()
    first = engine.corpus.reports[0].paragraphs[0]
    assert reader.locator(f"#{first.anchor}").count() == 1


def test_desk_stats_show_questions_feedback_and_export_csv(open_page, server) -> None:
    chat = open_page("/")
    ask(chat, "<img src=x onerror=alert(1)>")
    ask(chat, "德州明天天气怎么样")
    page = open_page("/desk")
    page.get_by_role("tab", name="统计").click()
    page.locator("#dz-refresh").click()
    refused = page.locator("#dz-stats")
    refused.get_by_text("管理口令不正确").wait_for()  # statistics are not for citizens
    page.locator("#dz-token input").fill(ADMIN_TOKEN)
    page.locator("#dz-refresh").click()
    stats = page.locator("#dz-stats .dz-stats")
    stats.wait_for()
    assert "每日提问数" in stats.inner_text() and "最常问的问题" in stats.inner_text()
    assert "<img src=x onerror=alert(1)>" in stats.locator(".dz-most").inner_text()  # as text
    assert "德州明天天气怎么样" in stats.locator(".dz-refused").inner_text()
    assert stats.locator("img").count() == 0 and page.dialogs == [] and chat.dialogs == []
    shot(page, "desk-stats.png", full_page=True)
    # the browser fetches the authenticated export route itself and saves the blob: no file on the server
    with page.expect_download() as download:
        page.locator("#dz-export-questions").click()
    assert download.value.suggested_filename.startswith("dzqa-questions-")
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    assert table[0][:3] == ["asked_at", "channel", "question"]
    assert any(r[2] == "德州明天天气怎么样" for r in table[1:])
    page.get_by_text("已下载 dzqa-questions-").wait_for()
    import dzqa.web

    for f in Path(dzqa.web.TEMP_DIR).rglob("*"):  # nothing Gradio could serve holds a question
        assert not f.is_file() or "德州明天天气怎么样".encode() not in f.read_bytes(), f
    page.locator("#dz-token input").fill("wrong")
    page.locator("#dz-export-feedback").click()
    page.get_by_text("管理口令不正确，无法导出。").wait_for()


# ------------------------------------------------------------------------------------------ overload


@pytest.mark.parametrize("changes", [{"queue_size": 0}, {"rate_limit": 1}], ids=["queue-full", "rate-limited"])
def test_overload_shows_a_polite_busy_message_not_a_hung_page(browser, engine, settings, tmp_path, changes) -> None:
    s = settings.replace(feedback_db=tmp_path / "fb.sqlite3", **changes)
    with LiveServer(create_app(engine, s)) as live:
        ctx = browser.new_context(viewport={"width": 1100, "height": 900}, locale="zh-CN")
        ctx.set_default_timeout(TIMEOUT)
        page = ctx.new_page()
        page.goto(live.url + "/")
        if "rate_limit" in changes:  # the first question is answered; the second is over 1 per minute
            ask(page, "今年招聘多少老师？")
        box = chat_input(page)
        box.fill("今年要新建多少所公办幼儿园？")
        box.press("Enter")
        page.get_by_text("当前咨询人数较多" if "queue_size" in changes else "请求过于频繁").first.wait_for()
        shot(page, f"busy-{'queue' if 'queue_size' in changes else 'rate'}.png")
        ctx.close()


def test_desk_curated_link_answers_a_paraphrase_and_deleting_it_restores_the_refusal(open_page, server) -> None:
    """An operator opens the review queue, links a refused question to a paragraph, a new citizen asking a
    paraphrase gets the cited answer; the link is deleted and the refusal returns (docs/curated.md)."""
    refused = "德州明天天气怎么样呀"
    chat = open_page("/")
    assert "没有找到" in ask(chat, refused).inner_text()
    page = open_page("/desk")
    page.get_by_role("tab", name="纠错").click()
    page.locator("#dz-cur-token input").fill(ADMIN_TOKEN)
    page.locator("#dz-cur-author input, #dz-cur-author textarea").first.fill("王芳")
    page.locator("#dz-cur-refresh").click()
    queue = page.locator("#dz-review .dz-review")
    queue.wait_for()
    assert refused in queue.inner_text() and "拒答" in queue.inner_text()
    box = page.locator("#dz-cur-q textarea, #dz-cur-q input").first
    box.fill(refused)
    page.locator("#dz-cur-find").click()
    pick = page.locator("#dz-cur-picks input[type=checkbox]").first
    pick.wait_for()
    pick.check()
    page.locator("#dz-cur-save").click()
    page.locator("#dz-cur-status").get_by_text("已保存纠错").wait_for()
    links = page.locator("#dz-curated .dz-curated")
    links.wait_for()
    assert refused in links.inner_text() and "王芳" in links.inner_text()
    shot(page, "desk-curated.png", full_page=True)

    citizen = open_page("/")
    box = chat_input(citizen)
    box.press_sequentially("天气怎")  # typing offers the curated question as a completion
    option = citizen.locator("#dz-suggest [role='option']").first
    option.wait_for()
    assert option.inner_text() == refused and box.get_attribute("aria-controls") == "dz-suggest"
    box.press("ArrowDown")
    assert option.get_attribute("aria-selected") == "true"
    assert box.get_attribute("aria-activedescendant") == option.get_attribute("id")
    box.press("Enter")  # takes the completion into the box; it is not sent yet
    citizen.wait_for_timeout(500)
    assert box.input_value() == refused and citizen.locator("#dz-suggest").count() == 0
    assert citizen.locator(".dz-reply").count() == 0
    box.fill("德州明天天气怎么样？")  # the same question in other punctuation
    box.press("Enter")
    reply = citizen.locator(".dz-reply").first
    reply.wait_for()
    assert "没有找到" not in reply.inner_text() and reply.locator(".dz-cite").count() >= 1
    assert "出处经热线工作人员核对" in reply.inner_text()  # the chat says staff chose these paragraphs
    assert rows(server, "SELECT hits FROM curated") == [(1,)]

    page.locator("#dz-cur-delete").click()
    page.locator("#dz-cur-status").get_by_text("已删除纠错").wait_for()
    again = open_page("/")
    assert "没有找到" in ask(again, "德州明天天气怎么样？").inner_text()
    assert rows(server, "SELECT COUNT(*) FROM curated") == [(0,)]
    assert [r[0] for r in rows(server, "SELECT action FROM audit ORDER BY id")] == ["curated.create", "curated.delete"]
