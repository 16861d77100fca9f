"""The citizens' chat (Gradio Blocks): the full page at ``/`` and the compact one at ``/embed``.

The handlers live in :class:`ChatLogic` (plain Python) and the layout in :func:`build_chat`. Messages
are HTML made by :mod:`dzqa.web.render` (everything escaped), shown by a Chatbot with markdown off and
Gradio's sanitiser on as a second line of defence. The chat function is published as ``api_name="chat"``
(inputs: message, history) so a load test can drive it through Gradio's HTTP API.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

import gradio as gr

from ..engine import QuestionError
from ..feedback import REASONS, Feedback
from .render import answer_html, esc, notice_html, question_html
from .service import Services

log = logging.getLogger("dzqa.web.chat")

EXAMPLES: tuple[str, ...] = (
    "今年地区生产总值增长目标是多少？",
    "今年要新建多少所公办幼儿园？",
    "农村公路今年修多少公里？",
    "医疗方面今年有什么安排？",
    "今年城镇新增就业多少人？",
    "老百姓收入今年能涨多少？",
)
PLACEHOLDER = "请输入您的问题，按回车发送（Shift+回车换行）"
SAVED_UP = "感谢您的评价！"
SAVED_DOWN = "感谢反馈。这个回答哪里不满意？请在下方选择原因（可选）。"
SAVED_REASON = "已记录原因：{reason}。感谢您帮助我们改进！"
RETRACTED = "已撤销您的评价。"
NOT_SAVED = "抱歉，您的评价未能保存（服务器暂时无法记录），请稍后再试。"


def welcome_html(title: str, hotline: str) -> str:
    """What the empty chat says it can do (the example questions appear below it)."""
    return (f'<div class="dz-welcome"><p><b>您好！我是《{esc(title)}》问答助手。</b></p>'
            f"<p>可以问我今年的发展目标和各项民生安排，例如教育、医疗、就业、交通、乡村振兴。"
            f"每个回答都逐字引用报告原文并注明出处；报告没有涉及的问题，请拨打 {esc(hotline)} 政务服务便民热线。</p>"
            f"<p>试试下面的问题：</p></div>")


@dataclass(frozen=True)
class Turn:
    """One answered question of a conversation, kept in the page's session state for feedback."""

    key: str  # stable id of this answer: a second 👍/👎 on it updates the same feedback row
    index: int  # position of the answer in the Chatbot's message list (what LikeData.index reports)
    question: str
    answer: str  # the answer text as the API returns it (with [n] markers)
    citations: tuple[str, ...]  # cited passage ids
    kind: str


class ChatLogic:
    """Event handlers of one chat page; ``channel`` ("chat" | "embed") is logged with each question."""

    def __init__(self, services: Services, channel: str, root: str) -> None:
        self.services = services
        self.channel = channel
        self.root = root  # from this page to the site root, for reader links ("" or "../")

    def respond(self, message: str, history: list[dict[str, Any]] | None,
                turns: list[Turn] | None) -> tuple[Any, ...]:
        """Ask the question; earlier questions of this conversation make follow-ups ("那农村呢？") work.

        Returns (textbox, chatbot, turns, status, reason picker)."""
        history, turns = list(history or []), list(turns or [])
        hide = gr.update(visible=False, value=None)
        if not isinstance(message, str) or not message.strip():
            return "", history, turns, "", hide
        try:
            answer = self.services.ask(message, [t.question for t in turns], channel=self.channel)
        except QuestionError as e:  # keep what was typed so it can be shortened
            return message, history, turns, notice_html(str(e), "error"), hide
        history.append({"role": "user", "content": question_html(message)})
        turns.append(Turn(key=uuid.uuid4().hex, index=len(history), question=message, answer=answer.text,
                          citations=tuple(h.passage.id for h in answer.citations), kind=answer.kind))
        history.append({"role": "assistant", "content": answer_html(answer, self.root,
                                                                    self.services.settings.hotline)})
        return "", history, turns, "", hide

    def example(self, history: list[dict[str, Any]] | None, turns: list[Turn] | None,
                data: gr.SelectData) -> tuple[Any, ...]:
        """A click on an example question asks it."""
        value = data.value
        text = value.get("text", "") if isinstance(value, dict) else str(value or "")
        return self.respond(text, history, turns)

    def rate(self, turns: list[Turn] | None, data: gr.LikeData) -> tuple[Any, ...]:
        """👍/👎 on an answer: stored at once; 👎 then offers the reasons. Returns (status, pending, picker)."""
        turn = next((t for t in turns or [] if t.index == data.index), None)
        if turn is None:
            return "", None, gr.update(visible=False, value=None)
        if data.liked not in (True, False):  # the same thumb clicked again: the rating is taken back
            ok = self.services.store.retract_feedback(turn.key)
            return (notice_html(RETRACTED if ok else NOT_SAVED, "ok" if ok else "error"), None,
                    gr.update(visible=False, value=None))
        rating = "up" if data.liked is True else "down"
        saved = self._save(turn, rating, None)
        if not saved:
            return notice_html(NOT_SAVED, "error"), None, gr.update(visible=False, value=None)
        if rating == "up":
            return notice_html(SAVED_UP, "ok"), None, gr.update(visible=False, value=None)
        return notice_html(SAVED_DOWN, "ok"), turn.key, gr.update(visible=True, value=None)

    def give_reason(self, turns: list[Turn] | None, pending: str | None, reason: str | None) -> tuple[Any, ...]:
        """The reason picked for a 👎 updates that answer's feedback row. Returns (status, pending, picker)."""
        turn = next((t for t in turns or [] if t.key == pending), None)
        if turn is None or reason not in REASONS:
            return "", pending, gr.update()
        if not self._save(turn, "down", reason):
            return notice_html(NOT_SAVED, "error"), pending, gr.update()
        return notice_html(SAVED_REASON.format(reason=reason), "ok"), None, gr.update(visible=False, value=None)

    def _save(self, turn: Turn, rating: str, reason: str | None) -> bool:
        row = self.services.store.save_feedback(Feedback(
            question=turn.question, answer=turn.answer, citations=turn.citations, rating=rating,  # type: ignore[arg-type]
            reason=reason, channel=self.channel, key=turn.key))
        return row is not None


def clear() -> tuple[Any, ...]:
    return [], [], "", None, gr.update(visible=False, value=None)


def header_html(title: str, hotline: str) -> str:
    return (f'<header class="dz-header"><h1>{esc(title)} · 问答</h1>'
            f"<p>回答逐字摘自报告原文并注明出处；报告没有涉及的问题，请拨打 <b>{esc(hotline)}</b> 政务服务便民热线。</p>"
            f'<p><a href="reader" target="_blank" rel="noopener">阅读报告原文</a></p></header>')


def footer_html(title: str, hotline: str) -> str:
    return (f'<p class="dz-footer">本助手只依据《{esc(title)}》原文作答，不作其他政策解释；'
            f"如需办理业务或进一步咨询，请拨打 {esc(hotline)}。</p>")

ELDER_BUTTON = '<button type="button" class="dz-elder-toggle" aria-pressed="false">大字 / 高对比</button>'


def build_chat(services: Services, *, compact: bool = False) -> gr.Blocks:
    """The chat page; ``compact`` is the embed: no header or footer, fits a 400×600 iframe."""
    s = services.settings
    title = services.engine.title
    logic = ChatLogic(services, channel="embed" if compact else "chat", root="../" if compact else "")
    with gr.Blocks(title=f"{title} · 问答", fill_height=compact, analytics_enabled=False,
                   elem_classes=["dz-embed"] if compact else ["dz-page"]) as demo:
        if not compact:
            gr.HTML(header_html(title, s.hotline), js_on_load=None, padding=False)
        turns = gr.State([])
        pending = gr.State(None)
        chatbot = gr.Chatbot(
            value=[], show_label=False, elem_id="dz-chat", layout="bubble",
            height=None if compact else "min(62vh, 620px)", min_height=260 if compact else 320, scale=1,
            placeholder=welcome_html(title, s.hotline), examples=[{"text": q} for q in EXAMPLES],
            render_markdown=False, sanitize_html=True, latex_delimiters=[], allow_tags=False, buttons=[],
            feedback_options=("Like", "Dislike"), group_consecutive_messages=False, autoscroll=True)
        reason = gr.Radio(list(REASONS), value=None, label="这个回答哪里不满意？", visible=False,
                          elem_id="dz-reason")
        status = gr.HTML("", elem_id="dz-status", js_on_load=None, padding=False)
        with gr.Row(equal_height=True, elem_id="dz-ask-row"):
            box = gr.Textbox(show_label=False, placeholder=PLACEHOLDER, lines=1, max_lines=4,
                             max_length=s.max_question_chars, elem_id="dz-input", scale=5, min_width=160,
                             autofocus=not compact, submit_btn=False, container=False)
            send = gr.Button("发送", variant="primary", scale=1, min_width=64, elem_id="dz-send")
        with gr.Row(elem_id="dz-tools"):
            reset = gr.Button("清空对话", size="sm", variant="secondary", scale=0, min_width=90, elem_id="dz-clear")
            gr.HTML(ELDER_BUTTON, js_on_load=None, padding=False)
        if not compact:
            gr.HTML(footer_html(title, s.hotline), js_on_load=None, padding=False)

        io = dict(inputs=[box, chatbot, turns], outputs=[box, chatbot, turns, status, reason],
                  concurrency_id="chat", show_progress="minimal")
        box.submit(logic.respond, api_name="chat", **io)  # type: ignore[arg-type]
        send.click(logic.respond, api_visibility="private", **io)  # type: ignore[arg-type]
        chatbot.example_select(logic.example, inputs=[chatbot, turns],
                               outputs=[box, chatbot, turns, status, reason], concurrency_id="chat",
                               api_visibility="private")
        chatbot.like(logic.rate, inputs=[turns], outputs=[status, pending, reason], api_visibility="private")
        reason.input(logic.give_reason, inputs=[turns, pending, reason], outputs=[status, pending, reason],
                     api_visibility="private")
        for event in (reset.click, chatbot.clear):  # the Chatbot's own 🗑 too: answers and turns stay in step
            event(clear, outputs=[chatbot, turns, status, pending, reason], api_visibility="private", queue=False)
    # api_open=False: queued events (answers) cannot be run directly through /gradio_api/run/predict,
    # around the queue's concurrency limit; the page's unqueued events (clearing) still can
    demo.queue(max_size=s.queue_size, default_concurrency_limit=s.queue_concurrency, api_open=False)
    return demo
