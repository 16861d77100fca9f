/* dzqa page behaviour, loaded once per page in <head>. No network access, no cookies. */
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
    const mark = el.closest(".dz-mark[data-cite]");
    if (mark) {  // [n] in an answer opens the n-th cited paragraph below it
      const d = mark.closest(".dz-reply")?.querySelector(`.dz-cite[data-n="${mark.dataset.cite}"]`);
      if (d) { d.open = true; d.scrollIntoView({ block: "nearest" }); }
      return;
    }
    const open = el.closest("a.dz-open");
    if (open && open.getAttribute("target") !== "_blank") {  // a sanitiser may drop target: keep the chat open
      e.preventDefault();
      window.open(open.href, "_blank", "noopener");
    }
  });
})();
