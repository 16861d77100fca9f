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
from ..feedback import MAX_COMMENT, REASONS, Feedback
from ..text import is_valid_unicode
from .render import answer_html, esc, notice_html, question_html, source_phrase, source_word
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
ELDER_BUTTON = '<button type="button" class="dz-elder-toggle" aria-pressed="false">大字 / 高对比</button>'
PRIVACY = "问题会被记录用于改进服务，请勿输入身份证号、电话等个人信息"
PLACEHOLDER = "请输入您的问题，按回车发送（Shift+回车换行）"
SHORT_PLACEHOLDER = "请输入您的问题"  # the embed: one line in a 360 px frame, elder mode too
SAVED_UP = "感谢您的评价！"
SAVED_DOWN = "感谢反馈。这个回答哪里不满意？请在下方选择原因（可选）。"
SAVED_REASON = "已记录原因：{reason}。感谢您帮助我们改进！"
SAVED_COMMENT = "已记录您写的原因。感谢您帮助我们改进！"
ASK_COMMENT = "已记录原因：其他。请在下方写下具体原因（可选），然后点“提交原因”。"
COMMENT_LABEL = f"也可以写下原因（可选，最多 {MAX_COMMENT} 字）"
BAD_COMMENT = f"原因最多 {MAX_COMMENT} 字，请删减后再提交。"
RETRACTED = "已撤销您的评价。"
NOT_SAVED = "抱歉，您的评价未能保存（服务器暂时无法记录），请稍后再试。"


def welcome_html(title: str, hotline: str, source: str = "报告原文") -> str:
    """What the empty chat says it can do (the example questions appear below it)."""
    return (f'<div class="dz-welcome"><p><b>您好！我是《{esc(title)}》问答助手。</b></p>'
            f"<p>可以问我今年的发展目标和各项民生安排，例如教育、医疗、就业、交通、乡村振兴。"
            f"每个回答都逐字引用{esc(source_phrase(source))}并注明出处；报告没有涉及的问题，请拨打 {esc(hotline)} 政务服务便民热线。</p>"
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
        #: what the quoted text is: 报告摘要 when the sidecar says the report is a published summary
        self.source = source_word(services.engine.corpus.reports[0].document.meta.get("kind")
                                  if services.engine.corpus.reports else None)

    def respond(self, message: str, history: list[dict[str, Any]] | None,
                turns: list[Turn] | None) -> tuple[Any, ...]:
        """Ask the question; earlier questions of this conversation make follow-ups ("那农村呢？") work.

        Returns (textbox, chatbot, turns, status, reason picker, comment box, comment)."""
        history, turns = list(history or []), list(turns or [])
        hide = picker(False)
        if not isinstance(message, str) or not message.strip():
            return "", history, turns, "", *hide
        try:
            answer = self.services.ask(message, [t.question for t in turns], channel=self.channel)
        except QuestionError as e:  # keep what was typed so it can be shortened
            return message, history, turns, notice_html(str(e), "error"), *hide
        history.append({"role": "user", "content": question_html(message)})
        turns.append(Turn(key=uuid.uuid4().hex, index=len(history), question=message, answer=answer.text,
                          citations=tuple(h.passage.id for h in answer.citations), kind=answer.kind))
        reply: dict[str, Any] = {"role": "assistant", "content": answer_html(answer, self.root,
                                                                             self.services.settings.hotline,
                                                                             self.source)}
        if answer.related:  # follow-up chips: the report's own topic sentences next to what was cited
            reply["options"] = [{"value": t.text, "label": t.text} for t in answer.related]
        history.append(reply)
        return "", history, turns, "", *hide

    def opening(self) -> Any:
        """The empty chat's example questions, read when a page opens: the most asked, well rated ones."""
        return gr.update(examples=[{"text": q} for q in self.services.opening_questions(EXAMPLES)])

    def example(self, history: list[dict[str, Any]] | None, turns: list[Turn] | None,
                data: gr.SelectData) -> tuple[Any, ...]:
        """A click on an example question, or on a follow-up chip under an answer, asks it."""
        value = data.value
        text = value.get("text", "") if isinstance(value, dict) else str(value or "")
        return self.respond(text, history, turns)

    def rate(self, turns: list[Turn] | None, data: gr.LikeData) -> tuple[Any, ...]:
        """👍/👎 on an answer: stored at once; 👎 then offers the reasons and a free-text box.

        Returns (status, pending, reason picker, comment box, comment)."""
        turn = next((t for t in turns or [] if t.index == data.index), None)
        if turn is None:
            return "", None, *picker(False)
        if data.liked not in (True, False):  # the same thumb clicked again: the rating is taken back
            ok = self.services.store.retract_feedback(turn.key)
            return notice_html(RETRACTED if ok else NOT_SAVED, "ok" if ok else "error"), None, *picker(False)
        rating = "up" if data.liked is True else "down"
        saved = self._save(turn, rating, None)
        if not saved:
            return notice_html(NOT_SAVED, "error"), None, *picker(False)
        if rating == "up":
            return notice_html(SAVED_UP, "ok"), None, *picker(False)
        return notice_html(SAVED_DOWN, "ok"), turn.key, *picker(True)

    def give_reason(self, turns: list[Turn] | None, pending: str | None, reason: str | None) -> tuple[Any, ...]:
        """The reason picked for a 👎 updates that answer's feedback row; "其他" keeps the free-text box open.

        Returns (status, pending, reason picker, comment box, comment)."""
        turn = next((t for t in turns or [] if t.key == pending), None)
        keep = (gr.update(), gr.update(), gr.update())
        if turn is None or reason not in REASONS:
            return "", pending, *keep
        if not self._save(turn, "down", reason):
            return notice_html(NOT_SAVED, "error"), pending, *keep
        if reason == REASONS[-1]:  # 其他: say what, in the box below
            return notice_html(ASK_COMMENT, "ok"), pending, gr.update(), gr.update(visible=True), gr.update()
        return notice_html(SAVED_REASON.format(reason=reason), "ok"), None, *picker(False)

    def give_comment(self, turns: list[Turn] | None, pending: str | None, reason: str | None,
                     comment: str | None) -> tuple[Any, ...]:
        """The citizen's own words for a 👎 (at most MAX_COMMENT characters), stored with the picked reason
        (其他 when none was picked). Returns (status, pending, reason picker, comment box, comment)."""
        turn = next((t for t in turns or [] if t.key == pending), None)
        keep = (gr.update(), gr.update(), gr.update())
        text = comment.strip() if isinstance(comment, str) else ""
        if turn is None or not text:
            return "", pending, *keep
        if len(text) > MAX_COMMENT or not is_valid_unicode(text):
            return notice_html(BAD_COMMENT, "error"), pending, *keep
        chosen = reason if reason in REASONS else REASONS[-1]
        if not self._save(turn, "down", chosen, text):
            return notice_html(NOT_SAVED, "error"), pending, *keep
        return notice_html(SAVED_COMMENT, "ok"), None, *picker(False)

    def _save(self, turn: Turn, rating: str, reason: str | None, comment: str | None = None) -> bool:
        row = self.services.store.save_feedback(Feedback(
            question=turn.question, answer=turn.answer, citations=turn.citations, rating=rating,  # type: ignore[arg-type]
            reason=reason, channel=self.channel, key=turn.key, comment=comment))
        return row is not None


def picker(visible: bool) -> tuple[Any, ...]:
    """Updates of the 👎 reason picker, the free-text box around it and the text: shown empty, or hidden."""
    return (gr.update(visible=visible, value=None), gr.update(visible=visible), gr.update(value=""))


def clear() -> tuple[Any, ...]:
    return [], [], "", None, *picker(False)


def header_html(title: str, hotline: str, source: str = "报告原文") -> str:
    """The full page's header; the 大字 toggle sits at its top, above the fold on a phone."""
    return (f'<header class="dz-header"><div class="dz-header-top"><h1>{esc(title)} · 问答</h1>{ELDER_BUTTON}</div>'
            f"<p>回答逐字摘自{esc(source_phrase(source))}并注明出处；报告没有涉及的问题，请拨打 <b>{esc(hotline)}</b> 政务服务便民热线。</p>"
            f'<p><a href="reader" target="_blank" rel="noopener">阅读{esc(source)}</a></p></header>')


def footer_html(title: str, hotline: str, source: str = "报告原文") -> str:
    what = "公开发布的摘要" if source == "报告摘要" else "原文"
    return (f'<p class="dz-footer">本助手只依据《{esc(title)}》{what}作答，不作其他政策解释；'
            f"如需办理业务或进一步咨询，请拨打 {esc(hotline)}。</p>")


def privacy_html(root: str = "") -> str:
    """The short notice under the input: questions are stored (issue 12, point 6). It also tells the page
    script where the completions come from (``root``: from this page to the site root)."""
    return f'<p class="dz-privacy" data-dz-suggest="{esc(root)}api/suggest">{esc(PRIVACY)}</p>'


def build_chat(services: Services, *, compact: bool = False) -> gr.Blocks:
    """The chat page; ``compact`` is the embed: no header or footer, fits a 400×600 iframe."""
    s = services.settings
    title = services.engine.title
    logic = ChatLogic(services, channel="embed" if compact else "chat", root="../" if compact else "")
    with gr.Blocks(title=f"{title} · 问答", fill_height=compact, analytics_enabled=False,
                   elem_classes=["dz-embed"] if compact else ["dz-page"]) as demo:
        if not compact:
            gr.HTML(header_html(title, s.hotline, logic.source), js_on_load=None, padding=False)
        turns = gr.State([])
        pending = gr.State(None)
        chatbot = gr.Chatbot(
            value=[], show_label=False, elem_id="dz-chat", layout="bubble",
            height=None if compact else "min(62vh, 620px)", min_height=260 if compact else 320, scale=1,
            placeholder=welcome_html(title, s.hotline, logic.source), examples=[{"text": q} for q in services.opening_questions(EXAMPLES)],
            render_markdown=False, sanitize_html=True, latex_delimiters=[], allow_tags=False, buttons=[],
            feedback_options=("Like", "Dislike"), group_consecutive_messages=False, autoscroll=True)
        reason = gr.Radio(list(REASONS), value=None, label="这个回答哪里不满意？", visible=False,
                          elem_id="dz-reason")
        with gr.Row(visible=False, elem_id="dz-comment-row", equal_height=True) as comment_box:
            comment = gr.Textbox(label=COMMENT_LABEL, lines=1, max_lines=3, max_length=MAX_COMMENT, scale=4,
                                 min_width=160, elem_id="dz-comment")
            comment_send = gr.Button("提交原因", variant="secondary", scale=1, min_width=90, elem_id="dz-comment-send")
        status = gr.HTML("", elem_id="dz-status", js_on_load=None, padding=False)
        with gr.Row(equal_height=True, elem_id="dz-ask-row"):
            box = gr.Textbox(label="您的问题", show_label=False, placeholder=SHORT_PLACEHOLDER if compact else PLACEHOLDER, lines=1, max_lines=4,
                             max_length=s.max_question_chars, elem_id="dz-input", scale=5, min_width=160,
                             autofocus=False, submit_btn=False, container=False)
            send = gr.Button("发送", variant="primary", scale=1, min_width=64, elem_id="dz-send")
        gr.HTML(privacy_html(logic.root), js_on_load=None, padding=False, elem_id="dz-privacy")
        with gr.Row(elem_id="dz-tools", equal_height=True):
            reset = gr.Button("清空对话", size="sm", variant="secondary", scale=0, min_width=90, elem_id="dz-clear")
            if compact:  # the full page has it in its header
                gr.HTML(ELDER_BUTTON, js_on_load=None, padding=False, elem_id="dz-elder")
        if not compact:
            gr.HTML(footer_html(title, s.hotline, logic.source), js_on_load=None, padding=False)

        pick = [reason, comment_box, comment]
        io = dict(inputs=[box, chatbot, turns], outputs=[box, chatbot, turns, status, *pick],
                  concurrency_id="chat", show_progress="minimal")
        box.submit(logic.respond, api_name="chat", **io)  # type: ignore[arg-type]
        send.click(logic.respond, api_visibility="private", **io)  # type: ignore[arg-type]
        for chosen in (chatbot.example_select, chatbot.option_select):
            chosen(logic.example, inputs=[chatbot, turns], outputs=[box, chatbot, turns, status, *pick],
                   concurrency_id="chat", api_visibility="private")
        demo.load(logic.opening, outputs=[chatbot], api_visibility="private", queue=False)
        chatbot.like(logic.rate, inputs=[turns], outputs=[status, pending, *pick], api_visibility="private")
        reason.input(logic.give_reason, inputs=[turns, pending, reason], outputs=[status, pending, *pick],
                     api_visibility="private")
        for event in (comment.submit, comment_send.click):
            event(logic.give_comment, inputs=[turns, pending, reason, comment], outputs=[status, pending, *pick],
                  api_visibility="private")
        for event in (reset.click, chatbot.clear):  # the Chatbot's own 🗑 too: answers and turns stay in step
            event(clear, outputs=[chatbot, turns, status, pending, *pick], api_visibility="private", queue=False)
    # api_open=False: queued events (answers) cannot be run directly through /gradio_api/run/predict,
    # around the queue's concurrency limit; the page's unqueued events (clearing) still can
    demo.queue(max_size=s.queue_size, default_concurrency_limit=s.queue_concurrency, api_open=False)
    return demo
