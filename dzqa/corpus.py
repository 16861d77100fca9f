"""Stage 1: read the reports in ``corpus/`` into documents, sections and paragraphs.

Entry point: :func:`load_corpus`. The report text is never rewritten; loading only

* joins paragraphs that a printed page break split mid-sentence (a paragraph that does not end a
  sentence continues in the next block),
* recognises numbered section headings (``1 聚焦…``) and short headline blocks outside them, and
* gives every paragraph an id that depends only on its position (``2021/s6/p2``), so it survives rebuilds.
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
_CN_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九")}
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
    doc_id = str(meta.get("id") or path.stem)
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,40}", doc_id):
        raise CorpusError(f"{path}: document id {doc_id!r} must be 1-40 letters, digits, '.', '_' or '-'")
    title = str(meta.get("title") or path.stem)
    digest = hashlib.sha256(raw + b"\0" + meta_bytes).hexdigest()
    document = Document(id=doc_id, title=title, path=str(path), sha256=digest, meta=meta)
    sections, paragraphs = parse_report(doc_id, body)
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


@dataclass
class _Block:
    text: str
    lines: list[int]
    kind: str  # "numbered", "headline", "body"
    number: int | None = None
    heading: str = ""


def _blocks(body: str) -> list[_Block]:
    """Blank-line separated blocks, each with its source line numbers."""
    blocks: list[_Block] = []
    cur: list[str] = []
    cur_lines: list[int] = []

    def flush() -> None:
        if cur:
            blocks.append(_classify(_join_lines(cur), list(cur_lines)))
            cur.clear()
            cur_lines.clear()

    for no, line in enumerate(body.replace("\r\n", "\n").replace("\r", "\n").split("\n"), start=1):
        if line.strip():
            cur.append(line.strip())
            cur_lines.append(no)
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


def _classify(text: str, lines: list[int]) -> _Block:
    m = _NUMBERED.match(text)
    if m and not _SENTENCE_MARKS.search(text) and len(lines) == 1:
        number = _to_int(m.group(1))
        if number:
            return _Block(text, lines, "numbered", number, m.group(2).strip())
    md = _MD_HEADING.match(text)
    if md:
        return _Block(text, lines, "headline", heading=md.group(1).strip())
    if len(text) <= HEADLINE_MAX_CHARS and not _SENTENCE_MARKS.search(text) and text[-1] not in _CLOSERS \
            and text[-1] not in ",，、":
        return _Block(text, lines, "headline", heading=text)
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
                and block.kind != "numbered":
            prev.text = _join(prev.text, block.text)
            prev.lines.extend(block.lines)
            continue
        out.append(block)
    return out


def parse_report(doc_id: str, body: str) -> tuple[tuple[Section, ...], tuple[Paragraph, ...]]:
    """Split a report body into sections and paragraphs with stable ids."""
    blocks = _repair_page_breaks(_blocks(body))
    sections: list[Section] = []
    paragraphs: list[Paragraph] = []
    current: Section | None = None
    count = 0
    headlines = 0
    pending_headline: list[str] = []

    def open_section(key: str, number: int | None, heading: str, label: str) -> Section:
        nonlocal count
        count = 0
        sec = Section(doc_id=doc_id, key=key, number=number, heading=heading, label=label)
        sections.append(sec)
        return sec

    for block in blocks:
        if block.kind == "numbered":
            assert block.number is not None
            key = f"s{block.number}"
            if any(s.key == key for s in sections):  # a repeated number: keep ids unique and stable
                key = f"s{block.number}-{sum(s.key.startswith(key) for s in sections) + 1}"
            current = open_section(key, block.number, block.heading,
                                   f"{section_label(block.number)} {block.heading}")
            pending_headline = []
            continue
        if block.kind == "headline":
            if current is not None and current.key.startswith("h") and count == 0:
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
        if current is None:
            current = open_section("s0", None, "", "开篇")
        count += 1
        paragraphs.append(Paragraph(id=f"{doc_id}/{current.key}/p{count}", doc_id=doc_id,
                                    section_key=current.key, number=count, text=block.text,
                                    source_lines=tuple(block.lines)))
    # a headline with no paragraph under it is just a title: drop the empty section
    used = {p.section_key for p in paragraphs}
    return tuple(s for s in sections if s.key in used), tuple(paragraphs)
