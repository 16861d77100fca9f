"""The hotline staff's lookup desk (Gradio Blocks at ``/desk``): search, the report by section, statistics.

Search shows the top passages at once (no chat), with scores, matched terms marked and a button that
copies a ready-to-read reply with its citation. Statistics go through
:func:`dzqa.web.service.admin_allowed` (the admin token; closed when none is configured); CSV exports are
downloaded by the browser from the authenticated ``/api/export/<table>.csv`` (:func:`export_js`).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import gradio as gr

from ..curated import CuratedError
from ..db import errors as db_errors
from ..engine import FilterError, QuestionError
from .render import (corpus_source, curated_html, esc, hits_html, notice_html, pick_label, review_html, section_html,
                     source_phrase, stats_html)
from .service import Services

log = logging.getLogger("dzqa.web.desk")

ALL_SECTIONS = ""
LOW_CONFIDENCE = ("没有找到与这个问题足够相关的内容：报告很可能没有涉及。下面是最接近的段落，仅供参考，"
                  "请勿当作答复；可请市民拨打 12345 或转相关部门。")
ALL_DOCUMENTS = ""
DAY_CHOICES = ((("最近 7 天", 7), ("最近 30 天", 30), ("最近 90 天", 90), ("最近一年", 365)))
TOKEN_REFUSED = "管理口令不正确，无法查看统计。"
EXPORT_REFUSED = "管理口令不正确，无法导出。"
EXPORT_FAILED = "导出暂时无法完成，请稍后再试。"
EXPORT_DONE = "已下载 {name}。"
NO_TOKEN = "统计功能未启用：服务器没有配置管理口令（DZQA_ADMIN_TOKEN）。"
CURATED_REFUSED = "管理口令不正确，无法查看或修改纠错。"
CURATED_SAVED = {"created": "已保存纠错：{q}", "updated": "已更新纠错：{q}", "unchanged": "纠错没有变化：{q}"}
CURATED_DELETED = "已删除纠错：{q}"
CURATED_NONE = "这个问题没有纠错记录：{q}"
CURATED_FAILED = "纠错暂时无法保存或读取（{e}）"


class DeskLogic:
    """Event handlers of the desk (plain Python over :class:`Services`)."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.reports = {s.id: r for r in services.engine.corpus.reports for s in r.sections}
        self.sections = {s.id: s for s in services.engine.sections()}
        self.source = corpus_source(services.engine.corpus)  # 报告摘要 for a published summary

    def search(self, query: str, section: str | None, k: float | None, doc: str | None = None) -> str:
        if not isinstance(query, str) or not query.strip():
            return notice_html("请输入关键词或市民的问题。")
        if doc and section and not section.startswith(doc + "/"):
            section = None  # a section of another document than the one chosen: the document decides
        try:
            result = self.services.engine.search(query, k=int(k or 5), section=section or None, doc=doc or None)
        except (QuestionError, FilterError) as e:
            return notice_html(str(e), "error")
        hits = hits_html(result.hits, root="../", source=self.source)
        if not result.confident:  # say so plainly rather than let five weak paragraphs look like an answer
            return notice_html(LOW_CONFIDENCE, "warn") + hits
        return hits

    def section(self, section_id: str | None) -> str:
        s = self.sections.get(section_id or "")
        return section_html(self.reports[s.id], s) if s else ""

    def refusal(self) -> str:
        return NO_TOKEN if not self.services.settings.admin_token else TOKEN_REFUSED

    def stats(self, token: str | None, days: float | None) -> str:
        if not self.services.admin_allowed(token):
            return notice_html(self.refusal(), "error")
        try:
            return stats_html(self.services.store.stats(days=int(days or 30)))
        except db_errors() as e:
            log.error("statistics unavailable: %s", e)
            return notice_html(f"统计暂时无法读取（{e}）", "error")

    # ------------------------------------------------------------------------------------ 纠错 (curated)
    def curated_view(self, token: str | None) -> tuple[str, str, Any]:
        """The review queue, the saved links (with hit counts and stale ones) and the edit choices."""
        if not self.services.admin_allowed(token):
            refused = notice_html(CURATED_REFUSED if self.services.settings.admin_token else NO_TOKEN, "error")
            return refused, "", gr.update(choices=[], value=None)
        try:
            queue = self.services.review()
            links = self.services.curated_links()
        except db_errors() as e:
            log.error("curated links unavailable: %s", e)
            return notice_html(CURATED_FAILED.format(e=e), "error"), "", gr.update(choices=[], value=None)
        return (review_html(queue), curated_html(links["links"], links["stale"]),
                gr.update(choices=[x["question"] for x in links["links"]], value=None))

    def curated_search(self, question: str | None) -> tuple[Any, str]:
        """Passages to pick for a question: the top ten of the search, as choices 'id · text'."""
        if not isinstance(question, str) or not question.strip():
            return gr.update(choices=[], value=[]), notice_html("请先输入市民的问题。")
        try:
            result = self.services.engine.search(question, k=10)
        except (QuestionError, FilterError) as e:
            return gr.update(choices=[], value=[]), notice_html(str(e), "error")
        choices = [(pick_label(h), h.passage.id) for h in result.hits]
        return gr.update(choices=choices, value=[]), hits_html(result.hits, root="../", source=self.source)

    def curated_load(self, token: str | None, question: str | None) -> tuple[Any, Any, Any, Any]:
        """An existing link into the form to edit: question, picked passages, typed ids, not covered."""
        link = None
        if self.services.admin_allowed(token) and isinstance(question, str) and question:
            link = self.services.engine.curated.store.get(question)
        if link is None:
            return gr.update(), gr.update(), gr.update(), gr.update()
        ids = list(link.passages)
        return (link.question, gr.update(choices=[(i, i) for i in ids], value=ids), "", not link.covered)

    def curated_save(self, token: str | None, author: str | None, question: str | None, picked: list[str] | None,
                     typed: str | None, not_covered: bool) -> tuple[str, str, str, Any]:
        if not self.services.admin_allowed(token):
            return (notice_html(CURATED_REFUSED, "error"),) + self.curated_view(token)
        ids = list(picked or []) + [x for x in (typed or "").replace("，", ",").replace(",", " ").split() if x]
        try:
            link, action = self.services.save_link(question, ids or None, covered=not not_covered, author=author)
        except CuratedError as e:
            return (notice_html(str(e), "error"),) + self.curated_view(token)
        except db_errors() as e:
            return (notice_html(CURATED_FAILED.format(e=e), "error"),) + self.curated_view(token)
        return (notice_html(CURATED_SAVED[action].format(q=link["question"])),) + self.curated_view(token)

    def curated_delete(self, token: str | None, author: str | None, question: str | None) -> tuple[str, str, str, Any]:
        if not self.services.admin_allowed(token):
            return (notice_html(CURATED_REFUSED, "error"),) + self.curated_view(token)
        try:
            deleted = self.services.delete_link(question, author=author)
        except CuratedError as e:
            return (notice_html(str(e), "error"),) + self.curated_view(token)
        except db_errors() as e:
            return (notice_html(CURATED_FAILED.format(e=e), "error"),) + self.curated_view(token)
        message = (CURATED_DELETED if deleted else CURATED_NONE).format(q=question)
        return (notice_html(message, "info" if deleted else "warn"),) + self.curated_view(token)


def export_js(table: str) -> str:
    """The export buttons run in the browser only: they fetch the authenticated ``/api/export/<table>.csv``
    with the token in an Authorization header and save the response as a blob. Nothing is written on the
    server, so no file with citizens' questions ever sits in Gradio's cache under a guessable URL."""
    messages = json.dumps({"refused": EXPORT_REFUSED, "failed": EXPORT_FAILED, "done": EXPORT_DONE},
                          ensure_ascii=False)
    return f"""async (token) => {{
  const M = {messages}, table = {json.dumps(table)};
  const say = (text) => {{ const el = document.querySelector("#dz-export-status .dz-export-status");
                          if (el) el.textContent = text; }};
  say("");
  try {{
    const r = await fetch(new URL("../api/export/" + table + ".csv", window.location.href),
                          {{headers: {{Authorization: "Bearer " + (token || "")}}, credentials: "omit", cache: "no-store"}});
    if (!r.ok) {{ say(r.status === 401 ? M.refused : M.failed); return []; }}
    const now = new Date(), pad = (n) => String(n).padStart(2, "0");
    const name = `dzqa-${{table}}-${{now.getFullYear()}}${{pad(now.getMonth() + 1)}}${{pad(now.getDate())}}.csv`;
    const a = document.createElement("a");
    a.href = URL.createObjectURL(await r.blob());
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 60000);
    say(M.done.replace("{{name}}", name));
  }} catch (e) {{ say(M.failed); }}
  return [];
}}"""


def header_html(title: str, source: str = "报告原文") -> str:
    return (f'<header class="dz-header"><h1>12345 热线查询台</h1>'
            f"<p>在《{esc(title)}》中查找市民问到的内容，复制带出处的答复。</p>"
            f'<p><a href="../" target="_blank" rel="noopener">市民问答页</a> · '
            f'<a href="../reader" target="_blank" rel="noopener">{esc(source)}（按段落）</a> · '
            f'<a href="../docs" target="_blank" rel="noopener">JSON API</a></p></header>')


def build_desk(services: Services) -> gr.Blocks:
    s = services.settings
    logic = DeskLogic(services)
    sections = services.engine.sections()
    choices = [(sec.label, sec.id) for sec in sections]
    with gr.Blocks(title="12345 热线查询台", analytics_enabled=False, elem_classes=["dz-desk"]) as desk:
        gr.HTML(header_html(services.engine.title, logic.source), js_on_load=None, padding=False)
        with gr.Tabs():
            with gr.Tab("检索", id="search"):
                with gr.Row(equal_height=True):
                    query = gr.Textbox(label="查询", placeholder="输入关键词或市民的问题，例如：农村公路", lines=1,
                                       max_lines=1, max_length=s.max_question_chars, scale=4, min_width=220,
                                       elem_id="dz-desk-q", autofocus=True)
                    reports = services.engine.corpus.reports
                    # several documents: choose one (its id), or search them all
                    doc = gr.Dropdown([("全部报告", ALL_DOCUMENTS)] + [(r.document.title, r.document.id) for r in reports],
                                      value=ALL_DOCUMENTS, label="报告", scale=2, min_width=160,
                                      elem_id="dz-desk-doc", visible=len(reports) > 1)
                    section = gr.Dropdown([("全部", ALL_SECTIONS)] + choices, value=ALL_SECTIONS, label="部分",
                                          scale=2, min_width=160, elem_id="dz-desk-section")
                    k = gr.Slider(1, 20, value=5, step=1, label="条数", scale=1, min_width=120, elem_id="dz-desk-k")
                go = gr.Button("查找", variant="primary", elem_id="dz-desk-go")
                results = gr.HTML(notice_html(f"输入后按回车，立即列出{source_phrase(logic.source)}中最相关的段落。"), elem_id="dz-results",
                                  js_on_load=None, padding=False)
                io = dict(inputs=[query, section, k, doc], outputs=results, concurrency_id="desk",
                          show_progress="minimal")
                query.submit(logic.search, api_name="desk_search", **io)  # type: ignore[arg-type]
                go.click(logic.search, api_visibility="private", **io)  # type: ignore[arg-type]
                section.change(logic.search, api_visibility="private", trigger_mode="always_last", **io)  # type: ignore[arg-type]
                doc.change(logic.search, api_visibility="private", trigger_mode="always_last", **io)  # type: ignore[arg-type]
            with gr.Tab(logic.source, id="reader"):
                chosen = gr.Dropdown(choices, value=sections[0].id if sections else None, label="选择部分",
                                     elem_id="dz-reader-section")
                gr.HTML('<p><a class="dz-open" href="../reader" target="_blank" rel="noopener">'
                        f"打开完整的{esc(source_phrase(logic.source))}（每段都有固定链接，可直接引用）›</a></p>", js_on_load=None, padding=False)
                text = gr.HTML(logic.section(sections[0].id) if sections else "", elem_id="dz-reader",
                               js_on_load=None, padding=False)
                chosen.change(logic.section, inputs=chosen, outputs=text, api_visibility="private")
            with gr.Tab("统计", id="stats"):
                with gr.Row(equal_height=True):
                    token = gr.Textbox(label="管理口令", type="password", scale=2, elem_id="dz-token")
                    days = gr.Dropdown(list(DAY_CHOICES), value=30, label="时间范围", scale=1, elem_id="dz-days")
                    refresh = gr.Button("刷新统计", variant="primary", scale=1, elem_id="dz-refresh")
                out = gr.HTML(notice_html("输入管理口令后点击“刷新统计”。"), elem_id="dz-stats",
                              js_on_load=None, padding=False)
                with gr.Row():
                    export_q = gr.Button("导出提问记录 CSV", size="sm", elem_id="dz-export-questions")
                    export_f = gr.Button("导出反馈 CSV", size="sm", elem_id="dz-export-feedback")
                gr.HTML('<p class="dz-export-status" role="status" aria-live="polite"></p>', elem_id="dz-export-status",
                        js_on_load=None, padding=False)
                refresh.click(logic.stats, inputs=[token, days], outputs=out, api_visibility="private")
                days.change(logic.stats, inputs=[token, days], outputs=out, api_visibility="private")
                # browser-only events (fn=None): the token goes to the authenticated export route
                export_q.click(None, inputs=token, js=export_js("questions"), api_visibility="private")
                export_f.click(None, inputs=token, js=export_js("feedback"), api_visibility="private")
            with gr.Tab("纠错", id="curated"):
                gr.HTML(notice_html("把市民的问题关联到报告中正确的段落，或标记为“报告未涉及”。答复仍然逐字引用报告原文。"),
                        js_on_load=None, padding=False)
                with gr.Row(equal_height=True):
                    cur_token = gr.Textbox(label="管理口令", type="password", scale=2, elem_id="dz-cur-token")
                    author = gr.Textbox(label="您的姓名（记入修改记录）", max_length=40, scale=2, elem_id="dz-cur-author")
                    cur_refresh = gr.Button("刷新队列", variant="primary", scale=1, elem_id="dz-cur-refresh")
                queue_out = gr.HTML(notice_html("输入管理口令后点击“刷新队列”。"), elem_id="dz-review",
                                    js_on_load=None, padding=False)
                with gr.Row(equal_height=True):
                    cur_q = gr.Textbox(label="市民的问题", max_length=s.max_question_chars, scale=4,
                                       elem_id="dz-cur-q")
                    cur_find = gr.Button("检索段落", scale=1, elem_id="dz-cur-find")
                picks = gr.CheckboxGroup([], label="选择回答这个问题的段落", elem_id="dz-cur-picks")
                with gr.Row(equal_height=True):
                    typed = gr.Textbox(label="或直接填写段落编号（如 2021/s6/p2，多个用逗号分隔）", scale=3,
                                       elem_id="dz-cur-ids")
                    not_covered = gr.Checkbox(label="报告未涉及（回复标准答复）", scale=1, elem_id="dz-cur-uncovered")
                with gr.Row():
                    cur_save = gr.Button("保存纠错", variant="primary", elem_id="dz-cur-save")
                    cur_delete = gr.Button("删除该问题的纠错", variant="secondary", elem_id="dz-cur-delete")
                cur_status = gr.HTML("", elem_id="dz-cur-status", js_on_load=None, padding=False)
                edit = gr.Dropdown([], label="修改已保存的纠错", value=None, elem_id="dz-cur-edit")
                links_out = gr.HTML("", elem_id="dz-curated", js_on_load=None, padding=False)
                found = gr.HTML("", elem_id="dz-cur-found", js_on_load=None, padding=False)
                view_out = [queue_out, links_out, edit]
                private = dict(api_visibility="private")
                cur_refresh.click(logic.curated_view, inputs=cur_token, outputs=view_out, **private)  # type: ignore[arg-type]
                cur_find.click(logic.curated_search, inputs=cur_q, outputs=[picks, found], **private)  # type: ignore[arg-type]
                cur_q.submit(logic.curated_search, inputs=cur_q, outputs=[picks, found], **private)  # type: ignore[arg-type]
                edit.input(logic.curated_load, inputs=[cur_token, edit], outputs=[cur_q, picks, typed, not_covered],
                           **private)  # type: ignore[arg-type]
                cur_save.click(logic.curated_save, inputs=[cur_token, author, cur_q, picks, typed, not_covered],
                               outputs=[cur_status, *view_out], **private)  # type: ignore[arg-type]
                cur_delete.click(logic.curated_delete, inputs=[cur_token, author, cur_q],
                                 outputs=[cur_status, *view_out], **private)  # type: ignore[arg-type]
    # api_open=False: queued events (answers) cannot be run directly through /gradio_api/run/predict,
    # around the queue's concurrency limit; the page's unqueued events (clearing) still can
    desk.queue(max_size=s.queue_size, default_concurrency_limit=s.queue_concurrency, api_open=False)
    return desk
