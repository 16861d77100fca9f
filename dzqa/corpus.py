"""Stage 1: read the reports in ``corpus/`` into documents, sections and paragraphs.

Entry point: :func:`load_corpus`. The report text is never rewritten; loading only

* reads CRLF and a BOM, and removes zero-width characters (U+200B…) and indents (spaces, full-width
  spaces) from each line; a line left empty is a blank line,
* joins paragraphs that a printed page break split mid-sentence (a paragraph that does not end a
  sentence continues in the next block, also across runs of blank lines),
* recognises numbered section headings (``1 聚焦…``, ``一、…``) and, inside them, ``（一）…``
  subsections (keys ``s3`` and ``s3.2``; a subsection heading that opens a paragraph stays in that
  paragraph), and short headline blocks outside them (a headline before any text is the title page: it
  becomes the heading of the opening ``s0``),
* merges a salutation standing alone (``各位代表！``) into the paragraph after it,
* leaves out everything from the line holding a sidecar ``"exclude"`` marker to the end of the file
  (a licence footer), and
* gives every paragraph an id that depends only on its position (``2021/s6/p2``), so it survives rebuilds.

Every paragraph's text is its source lines (``source_lines``), each cleaned as above, concatenated.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .types import Document, Paragraph, Section, section_label

REPORT_SUFFIXES = (".txt", ".md")
#: a block ending in one of these closes its paragraph; anything else was cut by a page break
_CLOSERS = set("。！？!?；;：:”’」』）)…")
_SENTENCE_MARKS = re.compile(r"[。！？!?；;]")
_NUMBERED = re.compile(r"^(?:#{1,6}\s*)?(?:第)?(\d{1,2}|[一二三四五六七八九十]{1,3})(?:[\s、.．]|部分)\s*(\S.{0,60})$")
_MD_HEADING = re.compile(r"^#{1,6}\s+(\S.*)$")
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)
_SUBSECTION = re.compile(r"^[（(]([一二三四五六七八九十]{1,3})[）)]\s*(\S.*)$")
_FIRST_SENTENCE = re.compile(r"^[^。！？!?；;]+[。！？!?；;]?")
#: a salutation standing alone as a paragraph ("各位代表！") belongs to the paragraph after it
_SALUTATION = re.compile(r"^(?:各位代表|各位委员|同志们|女士们、先生们)[，,：:！!]?$")
#: characters that carry nothing and are removed from the text at load time (the file is never rewritten)
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
_ZERO_WIDTH = re.compile(f"[{ZERO_WIDTH}]")
_CN_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九")}
#: a subsection heading (the first sentence of its block) up to this long
SUBSECTION_HEADING_MAX = 80
HEADLINE_MAX_CHARS = 30


class CorpusError(Exception):
    """A report file that cannot be used. The message names the file and says what to do."""


@dataclass(frozen=True)
class Report:
    """A loaded document with its sections and paragraphs."""

    document: Document
    sections: tuple[Section, ...]
    paragraphs: tuple[Paragraph, ...]

    def section(self, key: str) -> Section:
        return next(s for s in self.sections if s.key == key)


@dataclass(frozen=True)
class Corpus:
    reports: tuple[Report, ...]
    #: files that were skipped, with the reason (the rest of the corpus still loads)
    problems: tuple[str, ...] = field(default=())

    @property
    def paragraphs(self) -> tuple[Paragraph, ...]:
        return tuple(p for r in self.reports for p in r.paragraphs)

    @property
    def sections(self) -> tuple[Section, ...]:
        return tuple(s for r in self.reports for s in r.sections)

    def fingerprint(self) -> str:
        """Content hash of every loaded file and its metadata."""
        h = hashlib.sha256()
        for r in sorted(self.reports, key=lambda r: r.document.id):
            h.update(r.document.id.encode() + b"\0" + r.document.sha256.encode() + b"\0")
        return h.hexdigest()


#: the pages' title when the corpus holds reports of several places and no home city is set
NEUTRAL_TITLE = "政府工作报告"


def corpus_title(corpus: Corpus, home: str = "") -> str:
    """What the greeting, the chat and desk headers and the reader are titled after.

    One document: its title (《2021年德州市政府工作报告》). Several: from their metadata, never one report's
    title: all of one place → that place's reports (德州市政府工作报告; 全国 → 国务院政府工作报告); several places →
    the home city's (``DZQA_HOME_CITY``) when one is set, else the neutral 政府工作报告."""
    docs = [r.document for r in corpus.reports]
    if len(docs) == 1:
        return docs[0].title
    places = {str(d.meta.get("place") or d.meta.get("city") or "") for d in docs}
    if len(places) == 1 and "" not in places:
        place = places.pop()
        return "国务院政府工作报告" if place == "全国" else f"{place}{NEUTRAL_TITLE}"
    return f"{home}{NEUTRAL_TITLE}" if home and home != "全国" else NEUTRAL_TITLE


def load_corpus(corpus_dir: Path) -> Corpus:
    """Load every report in ``corpus_dir``. Unusable files are skipped and listed in ``problems``.

    Raises :class:`CorpusError` when the folder is missing or no report in it can be loaded.
    """
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise CorpusError(f"corpus folder {corpus_dir} does not exist; set DZQA_CORPUS_DIR or create it")
    files = sorted(p for p in corpus_dir.iterdir()
                   if p.suffix.lower() in REPORT_SUFFIXES and p.stem.lower() != "readme" and p.is_file())
    reports: list[Report] = []
    problems: list[str] = []
    seen: dict[str, Path] = {}
    for path in files:
        try:
            report = load_report(path)
        except CorpusError as e:
            problems.append(str(e))
            continue
        doc_id = report.document.id
        if doc_id in seen:
            problems.append(f"{path}: document id {doc_id!r} is already used by {seen[doc_id].name}; "
                            f"give it another \"id\" in {path.with_suffix('.json').name}")
            continue
        seen[doc_id] = path
        reports.append(report)
    if not reports:
        detail = "; ".join(problems) if problems else f"no .txt or .md report in {corpus_dir}"
        raise CorpusError(f"no usable report in {corpus_dir}: {detail}")
    return Corpus(tuple(reports), tuple(problems))


def load_report(path: Path) -> Report:
    """Read one report file (UTF-8) and its metadata; split it into sections and paragraphs."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise CorpusError(f"{path}: cannot be read ({e.strerror or e})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise CorpusError(f"{path}: is not UTF-8 (byte {e.start}); convert it with "
                          f"`iconv -f GB18030 -t UTF-8`") from None
    if "\x00" in text:
        raise CorpusError(f"{path}: contains NUL bytes; is it really a text file?")
    meta, body, meta_bytes = _metadata(path, text)
    # line numbers count from the top of the file, front matter included
    first_line = 1 + text[:len(text) - len(body)].count("\n")
    doc_id = str(meta.get("id") or path.stem)
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,40}", doc_id):
        raise CorpusError(f"{path}: document id {doc_id!r} must be 1-40 letters, digits, '.', '_' or '-'")
    title = str(meta.get("title") or path.stem)
    digest = hashlib.sha256(raw + b"\0" + meta_bytes).hexdigest()
    document = Document(id=doc_id, title=title, path=str(path), sha256=digest, meta=meta)
    body = _exclude(path, body, meta.get("exclude"))
    sections, paragraphs = parse_report(doc_id, body, first_line=first_line)
    if not paragraphs:
        raise CorpusError(f"{path}: has no paragraphs")
    return Report(document, sections, paragraphs)


def _metadata(path: Path, text: str) -> tuple[dict[str, Any], str, bytes]:
    sidecar = path.with_suffix(".json")
    if sidecar.exists():
        try:
            meta_bytes = sidecar.read_bytes()
            meta = json.loads(meta_bytes.decode("utf-8-sig"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise CorpusError(f"{sidecar}: metadata is not readable JSON ({e})") from None
        if not isinstance(meta, dict):
            raise CorpusError(f"{sidecar}: metadata must be a JSON object")
        return meta, text, meta_bytes
    m = _FRONT_MATTER.match(text)
    if m:  # simple "key: value" front matter in Markdown reports
        meta = {}
        for line in m.group(1).splitlines():
            if ":" in line:
                k, v = line.split(":", 1)
                meta[k.strip()] = v.strip().strip("\"'")
        return meta, text[m.end():], m.group(0).encode()
    return {}, text, b""


def clean_line(line: str) -> str:
    """A source line as it enters a paragraph: zero-width characters removed, indents and trailing spaces
    (also full-width ones) stripped. ``Paragraph.text`` is the concatenation of its cleaned lines."""
    return _ZERO_WIDTH.sub("", line).strip()


def _exclude(path: Path, body: str, markers: Any) -> str:
    """The body without the text from the line holding each ``"exclude"`` marker to the end of the file.

    Lines are blanked, not removed, so line numbers stay those of the file."""
    if markers in (None, "", []):
        return body
    if isinstance(markers, str):
        markers = [markers]
    if not isinstance(markers, list) or not all(isinstance(m, str) and m.strip() for m in markers):
        raise CorpusError(f"{path}: \"exclude\" must be a list of marker texts, e.g. [\"本作品是中华人民共和国的\"]")
    lines = body.split("\n")
    cut = len(lines)
    for marker in markers:
        at = next((i for i, line in enumerate(lines) if marker in _ZERO_WIDTH.sub("", line)), None)
        if at is None:
            raise CorpusError(f"{path}: the \"exclude\" marker {marker!r} is not in the text; "
                              f"fix it in {path.with_suffix('.json').name}")
        cut = min(cut, at)
    return "\n".join(lines[:cut] + [""] * (len(lines) - cut))


@dataclass
class _Block:
    text: str
    lines: list[int]
    kind: str  # "numbered", "subsection", "headline", "body"
    number: int | None = None
    heading: str = ""
    #: a subsection heading that opens its paragraph ("（一）着力…。继续做好…"): the block is a paragraph too
    has_body: bool = False


def _blocks(body: str, first_line: int = 1) -> list[_Block]:
    """Blank-line separated blocks, each with its source line numbers."""
    blocks: list[_Block] = []
    cur: list[str] = []
    cur_lines: list[int] = []

    def flush() -> None:
        if cur:
            blocks.append(_classify(_join_lines(cur), list(cur_lines), list(cur)))
            cur.clear()
            cur_lines.clear()

    for no, raw in enumerate(body.replace("\r\n", "\n").replace("\r", "\n").split("\n"), start=first_line):
        line = clean_line(raw)
        if line:
            cur.append(line)
            cur_lines.append(no)
        elif raw.strip() and cur and cur[-1][-1] not in _CLOSERS:
            continue  # a line of zero-width characters marks a page boundary inside a sentence: 人 / ​ / 民满意
        else:
            flush()
    flush()
    return blocks


def _join_lines(parts: list[str]) -> str:
    out = parts[0]
    for part in parts[1:]:
        out = _join(out, part)
    return out


def _join(a: str, b: str) -> str:
    # Chinese text joins without a space; only Latin words/digits on both sides need one
    if a and b and a[-1].isascii() and a[-1].isalnum() and b[0].isascii() and b[0].isalnum():
        return a + " " + b
    return a + b


def _is_headline(text: str) -> bool:
    return len(text) <= HEADLINE_MAX_CHARS and not _SENTENCE_MARKS.search(text) and text[-1] not in _CLOSERS \
        and text[-1] not in ",，、"


def _classify(text: str, lines: list[int], parts: list[str] | None = None) -> _Block:
    m = _NUMBERED.match(text)
    if m and not _SENTENCE_MARKS.search(text) and len(lines) == 1:
        number = _to_int(m.group(1))
        if number:
            return _Block(text, lines, "numbered", number, m.group(2).strip())
    sub = _SUBSECTION.match(text)
    if sub and _to_int(sub.group(1)):
        first = _FIRST_SENTENCE.match(sub.group(2))
        heading = first.group(0) if first else sub.group(2)
        if len(heading) <= SUBSECTION_HEADING_MAX:
            rest = sub.group(2)[len(heading):].strip()
            return _Block(text, lines, "subsection", _to_int(sub.group(1)), heading.rstrip("。；;"),
                          has_body=bool(rest))
    md = _MD_HEADING.match(text)
    if md:
        return _Block(text, lines, "headline", heading=md.group(1).strip())
    if _is_headline(text) or (parts and len(parts) > 1 and all(_is_headline(part) for part in parts)):
        # several short lines without a sentence among them: a title page (政府工作报告 / ——2022年… / 李克强)
        return _Block(text, lines, "headline", heading=text if _is_headline(text) else " · ".join(parts or []))
    return _Block(text, lines, "body")


def _to_int(s: str) -> int | None:
    if s.isdigit():
        return int(s)
    if s == "十":
        return 10
    if s.startswith("十"):
        return 10 + _CN_DIGITS.get(s[1:], 0)
    if "十" in s:
        tens, _, ones = s.partition("十")
        return _CN_DIGITS.get(tens, 0) * 10 + (_CN_DIGITS.get(ones, 0) if ones else 0)
    return _CN_DIGITS.get(s)


def _repair_page_breaks(blocks: list[_Block]) -> list[_Block]:
    """Join a body block that stops mid-sentence with the block after it (unless that is a heading)."""
    out: list[_Block] = []
    for block in blocks:
        prev = out[-1] if out else None
        if prev is not None and prev.kind == "body" and prev.text[-1] not in _CLOSERS \
                and block.kind not in ("numbered", "subsection"):
            prev.text = _join(prev.text, block.text)
            prev.lines.extend(block.lines)
            continue
        out.append(block)
    return out


def _merge_salutations(blocks: list[_Block]) -> list[_Block]:
    """A salutation standing alone ("各位代表！") opens the body paragraph after it."""
    out: list[_Block] = []
    pending: _Block | None = None
    for block in blocks:
        if pending is not None:
            if block.kind == "body":
                block.text = _join(pending.text, block.text)
                block.lines = pending.lines + block.lines
            else:
                out.append(pending)
            pending = None
        if block.kind == "body" and _SALUTATION.match(block.text):
            pending = block
            continue
        out.append(block)
    if pending is not None:
        out.append(pending)
    return out


def parse_report(doc_id: str, body: str, first_line: int = 1) -> tuple[tuple[Section, ...], tuple[Paragraph, ...]]:
    """Split a report body into sections and paragraphs with stable ids."""
    blocks = _merge_salutations(_repair_page_breaks(_blocks(body, first_line)))
    sections: list[Section] = []
    paragraphs: list[Paragraph] = []
    current: Section | None = None
    chapter: Section | None = None  # the numbered section a （一） subsection belongs to
    count = 0
    headlines = 0
    pending_headline: list[str] = []
    title_page: list[str] = []  # headlines before any text: the heading of the opening s0

    def open_section(key: str, number: int | None, heading: str, label: str, parent: str = "") -> Section:
        nonlocal count
        count = 0
        sec = Section(doc_id=doc_id, key=key, number=number, heading=heading, label=label, parent=parent)
        sections.append(sec)
        return sec

    def add_paragraph(block: _Block) -> None:
        nonlocal count, current
        if current is None:
            current = open_section("s0", None, " · ".join(title_page), "开篇")
        count += 1
        paragraphs.append(Paragraph(id=f"{doc_id}/{current.key}/p{count}", doc_id=doc_id,
                                    section_key=current.key, number=count, text=block.text,
                                    source_lines=tuple(block.lines)))

    for block in blocks:
        if block.kind == "numbered":
            assert block.number is not None
            key = f"s{block.number}"
            if any(s.key == key for s in sections):  # a repeated number: keep ids unique and stable
                key = f"s{block.number}-{sum(s.key.startswith(key) for s in sections) + 1}"
            current = chapter = open_section(key, block.number, block.heading,
                                             f"{section_label(block.number)} {block.heading}")
            pending_headline = []
            continue
        if block.kind == "subsection":
            assert block.number is not None
            parent = chapter.key if chapter is not None else "s0"
            key = f"{parent}.{block.number}"
            if any(s.key == key for s in sections):
                key = f"{key}-{sum(s.key.startswith(key) for s in sections) + 1}"
            where = section_label(chapter.number) if chapter is not None and chapter.number else ""
            cn = block.text[:block.text.index("）" if "）" in block.text else ")") + 1]
            current = open_section(key, block.number, block.heading, f"{where}{cn} {block.heading}".strip(),
                                   parent=parent)
            pending_headline = []
            if block.has_body:  # the heading is the paragraph's first sentence: the paragraph stays whole
                add_paragraph(block)
            continue
        if block.kind == "headline":
            if current is None and not paragraphs:
                title_page.append(block.heading)  # the title page: 政府工作报告 · ——2021年3月5日… · 李克强
            elif current is not None and current.key.startswith("h") and count == 0:
                # consecutive headline lines form one heading
                pending_headline.append(block.heading)
                heading = " · ".join(pending_headline)
                sections[-1] = current = Section(doc_id, current.key, None, heading, heading)
            else:
                headlines += 1
                pending_headline = [block.heading]
                key = "h" if headlines == 1 else f"h{headlines}"
                current = open_section(key, None, block.heading, block.heading)
            continue
        add_paragraph(block)
    # a headline with no paragraph under it is just a title: drop the empty section
    used = {p.section_key for p in paragraphs}
    return tuple(s for s in sections if s.key in used), tuple(paragraphs)
