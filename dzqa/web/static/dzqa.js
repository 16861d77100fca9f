/* dzqa page behaviour, loaded once per page in <head>. No cookies; the one request it makes is to this
   site's own completions endpoint (api/suggest), while a question is typed. */
(() => {
  if (window.__dzqa) return;
  window.__dzqa = true;
  document.documentElement.lang = "zh-CN";

  /* Chinese input methods: the Enter that confirms a candidate must not send the question.
     Gradio's textbox sends on keypress Enter, so composing Enters are stopped here, in the capture
     phase on window, before any handler of the page sees them. Enter sends otherwise; Shift+Enter is a
     new line (Gradio's own behaviour for a multi-line textbox). */
  let composing = false;
  window.addEventListener("compositionstart", () => { composing = true; }, true);
  window.addEventListener("compositionend", () => { composing = false; }, true);
  window.addEventListener("focusout", () => { composing = false; }, true);
  const typing = (t) => t && (t.tagName === "TEXTAREA" || t.tagName === "INPUT");
  for (const type of ["keydown", "keypress"]) {
    window.addEventListener(type, (e) => {
      if (e.key !== "Enter" && e.keyCode !== 13 && e.keyCode !== 229) return;
      if (!(e.isComposing || e.keyCode === 229 || composing) || !typing(e.target)) return;
      e.stopImmediatePropagation();
      // keydown's default belongs to the IME (it confirms the candidate); a keypress would add a newline
      if (type === "keypress") e.preventDefault();
    }, true);
  }

  /* large-text / high-contrast mode: a class on <html>; ?elder=1 turns it on, the choice is remembered
     where storage is allowed (it may not be inside a third-party iframe, which is fine) */
  const ELDER = "dz-elder";
  const remember = (on) => { try { localStorage.setItem("dzqa-elder", on ? "1" : "0"); } catch (e) { /* blocked */ } };
  const syncButtons = () => {
    const on = document.documentElement.classList.contains(ELDER);
    document.querySelectorAll(".dz-elder-toggle").forEach((b) => b.setAttribute("aria-pressed", String(on)));
  };
  const setElder = (on) => { document.documentElement.classList.toggle(ELDER, on); remember(on); syncButtons(); };
  /* elder mode is black on white: in the dark theme it sets the theme aside while it is on */
  const themeForElder = () => {
    const b = document.body;
    if (!b) return;
    const elder = document.documentElement.classList.contains(ELDER);
    if (elder && b.classList.contains("dark")) { b.dataset.dzDark = "1"; b.classList.remove("dark"); }
    else if (!elder && b.dataset.dzDark === "1") { delete b.dataset.dzDark; b.classList.add("dark"); }
  };
  new MutationObserver(themeForElder).observe(document.documentElement, { attributes: true, attributeFilter: ["class"] });
  document.addEventListener("DOMContentLoaded", () => {
    new MutationObserver(themeForElder).observe(document.body, { attributes: true, attributeFilter: ["class"] });
    themeForElder();
  });
  /* the full page focuses the question box on wide screens only, without scrolling; on a phone the
     keyboard would cover the page and the header with the 大字 button would scroll away */
  if (!document.documentElement.classList.contains("dz-embed") && matchMedia("(min-width: 768px)").matches) {
    const focusBox = () => {
      const t = document.querySelector("#dz-input textarea");
      if (!t) return false;
      if (!document.activeElement || document.activeElement === document.body) t.focus({ preventScroll: true });
      return true;
    };
    const waiter = new MutationObserver(() => { if (focusBox()) waiter.disconnect(); });
    waiter.observe(document.documentElement, { childList: true, subtree: true });
    setTimeout(() => waiter.disconnect(), 10000);  // pages without a question box (the desk)
  }
  let initial = new URLSearchParams(location.search).get("elder");
  if (initial === null) { try { initial = localStorage.getItem("dzqa-elder"); } catch (e) { initial = null; } }
  if (initial === "1") document.documentElement.classList.add(ELDER);
  new MutationObserver(syncButtons).observe(document.documentElement, { childList: true, subtree: true });

  /* Gradio's own notices (a full queue answers 503 and its page shows a fixed English sentence) are
     shown in Chinese; the server's own messages (429, errors) already are. Text nodes only: no markup. */
  const NOTICES = {
    "This application is currently busy. Please try again.": "当前咨询人数较多，请稍后再试。",
    "Connection errored out.": "网络连接中断，请稍后再试。",
    "Error": "提示",
  };
  const translate = (root) => {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const zh = NOTICES[n.nodeValue.trim()];
      if (zh && n.parentElement && n.parentElement.closest(".toast-wrap, .toast-body, [data-testid='toast-body']")) n.nodeValue = zh;
    }
  };
  new MutationObserver((changes) => {
    for (const c of changes) for (const n of c.addedNodes) if (n.nodeType === 1) translate(n);
  }).observe(document.documentElement, { childList: true, subtree: true });

  /* Chinese accessible names. Gradio labels its controls from the browser's language ("Like",
     "Dislike", "Clear", "chatbot conversation"; "Liked" even in Chinese) and names each message with its
     raw HTML ("bot's message: <div class=…>"), and its sanitiser drops aria-* from our messages: the
     names are set here, whenever Gradio (re)renders, from the text people see. */
  const NAMES = {
    "Like": "赞", "Dislike": "踩", "Liked": "已赞", "Disliked": "已踩", "Clear": "清空对话",
    "chatbot conversation": "问答对话", "Scroll down": "滚动到最新回答", "Copy": "复制", "Copied": "已复制",
    "Copy message": "复制", "Retry": "重新回答", "Undo": "撤销", "Edit": "编辑", "Share": "分享",
    "Close": "关闭", "Submit": "发送", "Stop": "停止", "Textbox": "您的问题", "Loading...": "加载中",
    "Delete": "删除", "Download": "下载", "Upload": "上传",
  };
  const text = (el) => (el ? el.textContent : "").replace(/\s+/g, " ").trim();
  const setAttr = (el, name, value) => { if (el.getAttribute(name) !== value) el.setAttribute(name, value); };
  const name = () => {
    for (const el of document.querySelectorAll("[aria-label], [title]")) {
      for (const a of ["aria-label", "title"]) {
        const v = el.getAttribute(a);
        if (v === null) continue;
        const zh = NAMES[v.trim()];
        const example = /^Select example (\d+): ([\s\S]*)$/.exec(v);
        if (zh) setAttr(el, a, zh);
        else if (example) setAttr(el, a, `示例问题 ${example[1]}：${example[2]}`);
      }
    }
    document.querySelectorAll("#dz-chat [data-testid='user'][aria-label]").forEach((m) =>
      setAttr(m, "aria-label", "您的问题：" + text(m)));
    document.querySelectorAll("#dz-chat [data-testid='bot'][aria-label]").forEach((m) => {
      const reply = m.querySelector(".dz-reply");
      const said = reply ? [...reply.querySelectorAll(".dz-said, .dz-text:not(.dz-said *)")].map(text).join(" ") : "";
      setAttr(m, "aria-label", "助手的回答：" + (said || text(m)));
    });
    document.querySelectorAll("#dz-chat .examples[role='list']").forEach((l) => {
      setAttr(l, "role", "group"); setAttr(l, "aria-label", "示例问题");  // buttons are not list items
    });
    document.querySelectorAll(".dz-mark").forEach((b) => {
      const n = (/\d+/.exec(b.textContent) || [""])[0];
      setAttr(b, "aria-label", `出处 ${n}：展开并跳到引用的段落`);
    });
    document.querySelectorAll("a.dz-tel[target]").forEach((a) => a.removeAttribute("target"));  // a call, not a tab
  };
  new MutationObserver(name).observe(document.documentElement, {
    childList: true, subtree: true, attributes: true, attributeFilter: ["aria-label", "title", "role"] });

  /* copy a ready-to-read reply; the Clipboard API needs a secure context, older way otherwise */
  async function copyText(text) {
    try {
      if (navigator.clipboard && window.isSecureContext) { await navigator.clipboard.writeText(text); return true; }
    } catch (e) { /* fall through */ }
    const ta = document.createElement("textarea");
    ta.value = text;
    ta.setAttribute("readonly", "");
    ta.style.position = "fixed";
    ta.style.opacity = "0";
    document.body.appendChild(ta);
    ta.select();
    let ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    ta.remove();
    return ok;
  }

  /* [n] → its cited block. Gradio's sanitiser drops data-* and aria-*, so the number travels in the
     classes it keeps (marker dz-m<n>, block dz-c<n>), and in the marker's text as a fallback. */
  function openCitation(mark) {
    const m = /(?:^|\s)dz-m(\d+)(?:\s|$)/.exec(mark.className) || /(\d+)/.exec(mark.textContent);
    const reply = mark.closest(".dz-reply");
    const d = m && reply ? reply.querySelector(`details.dz-c${m[1]}`) : null;
    if (!d) return;
    d.open = true;
    d.classList.add("dz-cite-target");
    setTimeout(() => d.classList.remove("dz-cite-target"), 1600);
    // the Chatbot scrolls itself to the bottom when its content grows (the block just opened): reveal
    // the block now and again once that has happened
    const reveal = () => d.scrollIntoView({ block: "start" });
    reveal();
    requestAnimationFrame(reveal);
    setTimeout(reveal, 250);
    // on a slow device that autoscroll comes later: reveal again while the block's start is out of view
    const view = d.closest('[role="log"]') || document.documentElement;
    const hidden = () => {
      const a = d.getBoundingClientRect(), b = view.getBoundingClientRect();
      return a.top < Math.max(b.top, 0) - 2 || a.top >= Math.min(b.bottom, innerHeight);
    };
    [600, 1200, 2000].forEach((ms) => setTimeout(() => { if (hidden()) reveal(); }, ms));
    const summary = d.querySelector("summary");
    if (summary) summary.focus({ preventScroll: true });  // keyboard users continue from the paragraph
  }

  document.addEventListener("click", async (e) => {
    const el = e.target instanceof Element ? e.target : null;
    if (!el) return;
    const elder = el.closest(".dz-elder-toggle");
    if (elder) { setElder(!document.documentElement.classList.contains(ELDER)); return; }
    const copy = el.closest("[data-dz-copy]");
    if (copy) {
      e.preventDefault();
      const ok = await copyText(copy.getAttribute("data-dz-copy"));
      if (!copy.dataset.label) copy.dataset.label = copy.textContent;
      copy.textContent = ok ? "已复制" : "复制失败，请手动选择文字";
      copy.classList.toggle("dz-copied", ok);
      setTimeout(() => { copy.textContent = copy.dataset.label; copy.classList.remove("dz-copied"); }, 2000);
      return;
    }
    const mark = el.closest(".dz-mark");
    if (mark) {  // [n] in an answer opens the n-th cited paragraph below it (a button: Enter/Space too)
      e.preventDefault();
      openCitation(mark);
      return;
    }
    const open = el.closest("a.dz-open");
    if (open && open.getAttribute("target") !== "_blank") {  // a sanitiser may drop target: keep the chat open
      e.preventDefault();
      window.open(open.href, "_blank", "noopener");
    }
  });
  /* completions while typing: staff-curated questions containing what is typed (this site's
     api/suggest), listed under the question box. ↓/↑ choose, Enter or a click takes one into the box,
     Escape closes; nothing is sent until the citizen sends it. Not while an IME composes. The question
     box keeps its textbox role (aria-autocomplete, aria-controls, aria-activedescendant). */
  const LIST = "dz-suggest";
  let pendingTimer = 0, asked = "", active = -1, picked = false, swallow = false;
  const box = () => document.querySelector("#dz-input textarea");
  const listEl = () => document.getElementById(LIST);
  const endpoint = () => { const el = document.querySelector("[data-dz-suggest]"); return el ? el.getAttribute("data-dz-suggest") : ""; };
  const closeList = () => {
    const l = listEl(), t = box();
    if (l) l.remove();
    active = -1;
    if (t) t.removeAttribute("aria-activedescendant");
  };
  const choose = (i) => {
    const l = listEl(), t = box();
    if (!l || !t) return;
    const items = [...l.querySelectorAll("[role='option']")];
    if (!items.length) return;
    active = (i + items.length) % items.length;
    items.forEach((it, j) => it.setAttribute("aria-selected", String(j === active)));
    t.setAttribute("aria-activedescendant", items[active].id);
  };
  const take = (value) => {
    const t = box();
    closeList();
    if (!t) return;
    picked = true;  // the input event below is ours: no new lookup
    t.value = value;
    t.dispatchEvent(new Event("input", { bubbles: true }));  // Gradio's textbox reads its value on input
    t.focus();
  };
  const show = (items) => {
    closeList();
    const t = box(), row = document.getElementById("dz-ask-row");
    if (!t || !row || !items.length || t.value.trim() !== asked) return;
    const l = document.createElement("ul");
    l.id = LIST;
    l.setAttribute("role", "listbox");
    l.setAttribute("aria-label", "常见问题");
    items.forEach((q, i) => {
      const li = document.createElement("li");
      li.id = `${LIST}-${i}`;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", "false");
      li.textContent = q;
      li.addEventListener("mousedown", (e) => { e.preventDefault(); take(q); });  // before the box loses focus
      l.appendChild(li);
    });
    row.insertAdjacentElement("afterend", l);
    t.setAttribute("aria-autocomplete", "list");
    t.setAttribute("aria-controls", LIST);
  };
  const lookup = async () => {
    const t = box(), url = endpoint();
    if (!t || !url) return;
    const q = t.value.trim();
    asked = q;
    if (q.length < 2 || q.length > 100) { closeList(); return; }
    try {
      const r = await fetch(`${url}?q=${encodeURIComponent(q)}&n=5`, { credentials: "omit" });
      if (!r.ok) { closeList(); return; }
      const body = await r.json();
      show(Array.isArray(body.suggestions) ? body.suggestions.filter((s) => typeof s === "string") : []);
    } catch (e) { closeList(); }
  };
  document.addEventListener("input", (e) => {
    if (!(e.target instanceof Element) || !e.target.closest("#dz-input")) return;
    if (picked) { picked = false; return; }
    clearTimeout(pendingTimer);
    if (composing || e.isComposing) return;  // the word is not typed yet
    pendingTimer = setTimeout(lookup, 250);
  }, true);
  window.addEventListener("compositionend", () => { clearTimeout(pendingTimer); pendingTimer = setTimeout(lookup, 250); });
  // a prevented keydown has no keypress in most browsers; where one follows, it comes before the keyup
  window.addEventListener("keyup", (e) => { if (e.key === "Enter") swallow = false; }, true);
  document.addEventListener("focusout", (e) => {
    if (e.target instanceof Element && e.target.closest("#dz-input")) setTimeout(closeList, 150);
  });
  for (const type of ["keydown", "keypress"]) {
    window.addEventListener(type, (e) => {
      if (type === "keypress" && swallow && e.key === "Enter") {  // the keypress of the Enter that took one
        swallow = false;
        e.stopImmediatePropagation();
        e.preventDefault();
        return;
      }
      if (!listEl() || !(e.target instanceof Element) || !e.target.closest("#dz-input")) return;
      if (composing || e.isComposing) return;
      if (type === "keydown" && (e.key === "ArrowDown" || e.key === "ArrowUp")) {
        e.preventDefault();
        choose(active + (e.key === "ArrowDown" ? 1 : -1));
      } else if (type === "keydown" && e.key === "Escape") {
        e.preventDefault();
        closeList();
      } else if (e.key === "Enter" && !e.shiftKey && active >= 0) {
        // Enter on a highlighted completion takes it into the box; the next Enter sends
        e.stopImmediatePropagation();
        e.preventDefault();
        if (type === "keydown") {
          const it = listEl().querySelectorAll("[role='option']")[active];
          if (it) { swallow = true; take(it.textContent); }
        }
      }
    }, true);
  }
})();
