"""The hotline staff's lookup desk (Gradio Blocks at ``/desk``): search, the report by section, statistics.

Search shows the top passages at once (no chat), with scores, matched terms marked and a button that
copies a ready-to-read reply with its citation. Statistics and CSV exports go through
:func:`dzqa.web.service.admin_allowed` (the admin token; closed when none is configured).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

import gradio as gr

from ..engine import QuestionError
from ..feedback import now
from .render import corpus_source, esc, hits_html, notice_html, section_html, source_phrase, stats_html
from .service import Services

log = logging.getLogger("dzqa.web.desk")

ALL_SECTIONS = ""
DAY_CHOICES = ((("最近 7 天", 7), ("最近 30 天", 30), ("最近 90 天", 90), ("最近一年", 365)))
TOKEN_REFUSED = "管理口令不正确，无法查看统计。"
#: seconds an exported CSV stays on the server
EXPORT_TTL = 600
NO_TOKEN = "统计功能未启用：服务器没有配置管理口令（DZQA_ADMIN_TOKEN）。"


class DeskLogic:
    """Event handlers of the desk (plain Python over :class:`Services`)."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.reports = {s.id: r for r in services.engine.corpus.reports for s in r.sections}
        self.sections = {s.id: s for s in services.engine.sections()}
        self.source = corpus_source(services.engine.corpus)  # 报告摘要 for a published summary
        # CSV files handed to the browser: a folder only the server's user can enter (they hold citizens'
        # questions), created on the first export, old files removed at each export
        self.export_dir = Path(os.environ.get("GRADIO_TEMP_DIR") or tempfile.gettempdir()) / "dzqa-exports"

    def search(self, query: str, section: str | None, k: float | None) -> str:
        if not isinstance(query, str) or not query.strip():
            return notice_html("请输入关键词或市民的问题。")
        try:
            result = self.services.engine.search(query, k=int(k or 5), section=section or None)
        except QuestionError as e:
            return notice_html(str(e), "error")
        return hits_html(result.hits, root="../", source=self.source)

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
        except (sqlite3.Error, OSError) as e:
            log.error("statistics unavailable: %s", e)
            return notice_html(f"统计暂时无法读取（{e}）", "error")

    def export(self, token: str | None, table: str) -> Any:
        """A CSV file for the download box, or a warning (wrong token, unreadable database)."""
        if not self.services.admin_allowed(token):
            gr.Warning(self.refusal())
            return gr.update(value=None, visible=False)
        try:
            data = self.services.store.export_csv(table)
        except (sqlite3.Error, OSError) as e:
            gr.Warning(f"导出失败：{e}")
            return gr.update(value=None, visible=False)
        self.export_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        for old in self.export_dir.glob("dzqa-*.csv"):
            if time.time() - old.stat().st_mtime > EXPORT_TTL:
                old.unlink(missing_ok=True)
        path = self.export_dir / f"dzqa-{table}-{now():%Y%m%d-%H%M%S}.csv"
        path.write_text(data, encoding="utf-8")
        return gr.update(value=str(path), visible=True)


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
    # Gradio serves downloads from copies in its cache: remove them (and our exports) after EXPORT_TTL
    with gr.Blocks(title="12345 热线查询台", analytics_enabled=False, elem_classes=["dz-desk"],
                   delete_cache=(EXPORT_TTL, EXPORT_TTL)) as desk:
        gr.HTML(header_html(services.engine.title, logic.source), js_on_load=None, padding=False)
        with gr.Tabs():
            with gr.Tab("检索", id="search"):
                with gr.Row(equal_height=True):
                    query = gr.Textbox(label="查询", placeholder="输入关键词或市民的问题，例如：农村公路", lines=1,
                                       max_lines=1, max_length=s.max_question_chars, scale=4, min_width=220,
                                       elem_id="dz-desk-q", autofocus=True)
                    section = gr.Dropdown([("全部", ALL_SECTIONS)] + choices, value=ALL_SECTIONS, label="部分",
                                          scale=2, min_width=160, elem_id="dz-desk-section")
                    k = gr.Slider(1, 20, value=5, step=1, label="条数", scale=1, min_width=120, elem_id="dz-desk-k")
                go = gr.Button("查找", variant="primary", elem_id="dz-desk-go")
                results = gr.HTML(notice_html(f"输入后按回车，立即列出{source_phrase(logic.source)}中最相关的段落。"), elem_id="dz-results",
                                  js_on_load=None, padding=False)
                io = dict(inputs=[query, section, k], outputs=results, concurrency_id="desk", show_progress="minimal")
                query.submit(logic.search, api_name="desk_search", **io)  # type: ignore[arg-type]
                go.click(logic.search, api_visibility="private", **io)  # type: ignore[arg-type]
                section.change(logic.search, api_visibility="private", trigger_mode="always_last", **io)  # type: ignore[arg-type]
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
                download = gr.File(label="下载", visible=False, interactive=False, elem_id="dz-download")
                refresh.click(logic.stats, inputs=[token, days], outputs=out, api_visibility="private")
                days.change(logic.stats, inputs=[token, days], outputs=out, api_visibility="private")
                export_q.click(lambda t: logic.export(t, "questions"), inputs=token, outputs=download,
                               api_visibility="private")
                export_f.click(lambda t: logic.export(t, "feedback"), inputs=token, outputs=download,
                               api_visibility="private")
    desk.queue(max_size=s.queue_size, default_concurrency_limit=s.queue_concurrency)
    return desk
