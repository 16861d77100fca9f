"""Stage 1: the report is read faithfully, page breaks repaired, sections and ids recognised."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dzqa.corpus import ZERO_WIDTH, CorpusError, clean_line, corpus_title, load_corpus, parse_report
from dzqa.passages import make_passages
from dzqa.settings import Settings


@pytest.fixture(scope="module")
def corpus(settings: Settings):
    return load_corpus(settings.corpus_dir)


def test_metadata_from_sidecar(corpus) -> None:
    [report] = corpus.reports
    doc = report.document
    assert doc.id == "2021"
    assert doc.title == "2021年德州市政府工作报告"
    assert doc.meta["city"] == "德州市" and doc.meta["year"] == 2021 and doc.meta["date"] == "2021-01-23"


def test_eight_numbered_sections_and_the_headline(corpus) -> None:
    keys = [s.key for s in corpus.sections]
    assert keys == ["s0", "s1", "h", "s2", "s3", "s4", "s5", "s6", "s7", "s8"]
    s6 = next(s for s in corpus.sections if s.key == "s6")
    assert s6.label == "第六部分 聚焦基本公共服务需求 坚定不移增进民生福祉"
    headline = next(s for s in corpus.sections if s.key == "h")
    assert "应变局、育先机、开新局" in headline.heading and "2021年,德州在这八个方面发力" in headline.heading


def test_targets_paragraph_belongs_to_the_headline_not_a_section(corpus) -> None:
    targets = [p for p in corpus.paragraphs if "地区生产总值增长6.5%左右" in p.text]
    assert [p.id for p in targets] == ["2021/h/p1"]


@pytest.mark.parametrize("joined", [
    "把现代物流作为工业经济的基础设施来抓,组建",
    "加强乡村公共基础设施建设",
    "企业职工养老保险新扩面4万人以上。",
    "推动基础设施互互通、资质要素互认共享",  # the source lost 联; quoted as it is, never repaired
    "抓好城市外环改造提升",
    "深入推进土壤污染防治",
])
def test_page_breaks_are_repaired_into_one_paragraph(corpus, joined: str) -> None:
    assert sum(joined in p.text for p in corpus.paragraphs) == 1


def test_source_wording_and_typos_are_kept(corpus, settings: Settings) -> None:
    raw = (settings.corpus_dir / "dezhou-2021-government-work-report.txt").read_text(encoding="utf-8")
    # every paragraph is the raw text of its lines, concatenated: no character added, dropped or changed
    lines = raw.splitlines()
    for p in corpus.paragraphs:
        assert p.text == "".join(lines[n - 1].strip() for n in p.source_lines)
    text = "".join(p.text for p in corpus.paragraphs)
    for typo in ("提130.16亿元", "坡建项目"):
        assert typo in text
    assert any("加快型工业化" in s.heading for s in corpus.sections)


def test_paragraph_ids_are_stable_and_unique(corpus, settings: Settings) -> None:
    ids = [p.id for p in corpus.paragraphs]
    assert len(ids) == len(set(ids)) == 24
    assert "2021/s6/p2" in ids
    p = next(p for p in corpus.paragraphs if p.id == "2021/s6/p2")
    assert "新建扩建公办幼儿园38所" in p.text
    assert [q.id for q in load_corpus(settings.corpus_dir).paragraphs] == ids


def test_unreadable_file_is_named_and_the_others_still_load(corpus_copy: Path) -> None:
    (corpus_copy / "broken.txt").write_bytes("德州".encode("gbk") + b"\xff\xfe")
    (corpus_copy / "broken.json").write_text('{"id": "broken"}', encoding="utf-8")
    loaded = load_corpus(corpus_copy)
    assert [r.document.id for r in loaded.reports] == ["2021"]
    [problem] = loaded.problems
    assert "broken.txt" in problem and "UTF-8" in problem


def test_no_usable_report_is_an_error_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "only.txt").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(CorpusError, match="only.txt"):
        load_corpus(tmp_path)
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus(tmp_path / "missing")


def test_several_reports_each_with_metadata(corpus_copy: Path) -> None:
    (corpus_copy / "notes.md").write_text(
        "---\nid: notes\ntitle: 测试报告\nyear: 2022\n---\n\n1 第一部分标题\n\n"
        "这是第一段内容,它在印刷版的页面末尾被分页符截断了,所以没有结束\n\n继续的内容。\n",
        encoding="utf-8")
    loaded = load_corpus(corpus_copy)
    assert sorted(r.document.id for r in loaded.reports) == ["2021", "notes"]
    notes = next(r for r in loaded.reports if r.document.id == "notes")
    assert notes.document.title == "测试报告"
    assert [p.text for p in notes.paragraphs] == ["这是第一段内容,它在印刷版的页面末尾被分页符截断了,所以没有结束继续的内容。"]
    assert notes.paragraphs[0].id == "notes/s1/p1"


def test_duplicate_document_id_is_reported(corpus_copy: Path) -> None:
    (corpus_copy / "copy.txt").write_text("一段内容。\n", encoding="utf-8")
    (corpus_copy / "copy.json").write_text(json.dumps({"id": "2021"}), encoding="utf-8")
    loaded = load_corpus(corpus_copy)
    assert len(loaded.reports) == 1 and "already used" in loaded.problems[0]


def test_chinese_numbered_headings() -> None:
    sections, paragraphs = parse_report("x", "一、总体要求\n\n坚持稳中求进。\n\n二、重点任务\n\n扩大内需。\n")
    assert [s.label for s in sections] == ["第一部分 总体要求", "第二部分 重点任务"]
    assert [p.id for p in paragraphs] == ["x/s1/p1", "x/s2/p1"]


# ------------------------------------------------------------------ dirty sources: the national reports

FOOTER = ("本作品是中华人民共和国的", "Public domain", "维基文库", "不适用于该法", "公有领域")


@pytest.fixture(scope="module")
def five(five_corpus: Path):
    return load_corpus(five_corpus)


def _source_lines(path: str) -> list[str]:
    return Path(path).read_bytes().decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n").split("\n")


def test_five_reports_load_with_their_metadata(five) -> None:
    assert not five.problems
    docs = {r.document.id: r.document for r in five.reports}
    assert sorted(docs) == ["2021", "cn2021", "cn2022", "cn2023", "cn2024"]
    for year in (2021, 2022, 2023, 2024):
        doc = docs[f"cn{year}"]
        assert doc.title == f"{year}年国务院政府工作报告"
        assert doc.meta["place"] == "全国" and doc.meta["year"] == year


def test_every_paragraph_is_its_cleaned_source_lines(five) -> None:
    """Byte for byte: a paragraph is its source lines (zero-width characters and indents removed), joined."""
    for report in five.reports:
        lines = _source_lines(report.document.path)
        for p in report.paragraphs:
            assert p.text == "".join(clean_line(lines[n - 1]) for n in p.source_lines), p.id
            assert p.text and not set(p.text) & set(ZERO_WIDTH + "\r\u3000"[:2]), p.id


def test_nothing_of_the_licence_footer_is_a_paragraph_or_passage(five, settings: Settings) -> None:
    passages = make_passages(five, settings.chunk_size, settings.max_passage_chars)
    texts = [p.text for p in passages] + [p.context for p in passages] + [s.heading for s in five.sections]
    for marker in FOOTER:
        assert not [t for t in texts if marker in t], marker
    for report in five.reports:
        if "exclude" in report.document.meta:
            lines = _source_lines(report.document.path)
            start = next(i for i, line in enumerate(lines, 1) if "本作品是中华人民共和国的" in line)
            assert max(n for p in report.paragraphs for n in p.source_lines) < start


def test_every_passage_text_occurs_in_its_source_paragraph(five, settings: Settings) -> None:
    paragraphs = {p.id: p for p in five.paragraphs}
    sections = {s.id: s for s in five.sections}
    for passage in make_passages(five, settings.chunk_size, settings.max_passage_chars):
        c = passage.citation
        if c.paragraph_number == 0:  # a section's heading (or a title page's delivery lines): verbatim in the source
            heading = sections[c.section_id].heading
            assert passage.text == heading or heading.replace(" · ", "").endswith(passage.text)
            raw = "".join(clean_line(line) for line in _source_lines(
                next(r.document.path for r in five.reports if r.document.id == c.doc_id)))
            assert passage.text in raw
            continue
        para = paragraphs[c.paragraph_id]
        assert para.text[c.start:c.end] == passage.text and passage.text in para.text


@pytest.mark.parametrize("doc_id, chapters, subsections", [
    ("cn2021", ["s1", "s2", "s3"], {"s3": 8}),
    ("cn2022", ["s1", "s2", "s3"], {"s3": 9}),
    ("cn2023", ["s1", "s2"], {"s1": 10, "s2": 8}),
    ("cn2024", ["s1", "s2", "s3"], {"s3": 10}),
])
def test_national_reports_get_chapters_and_subsections(five, doc_id, chapters, subsections) -> None:
    report = next(r for r in five.reports if r.document.id == doc_id)
    keys = [s.key for s in report.sections]
    assert [k for k in keys if "." not in k and k != "s0"] == chapters
    assert keys[0] == "s0"  # the opening: 各位代表：现在，我代表国务院…
    for chapter, n in subsections.items():
        assert [k for k in keys if k.startswith(chapter + ".")] == [f"{chapter}.{i}" for i in range(1, n + 1)]
        assert all(s.parent == chapter for s in report.sections if s.key.startswith(chapter + "."))
    # no section of 60+ paragraphs, no headline section from a page break
    sizes = {k: sum(p.section_key == k for p in report.paragraphs) for k in keys}
    assert max(sizes.values()) <= 25, sizes
    assert not [k for k in keys if k.startswith("h")]


def test_subsection_ids_and_labels(five) -> None:
    s = next(s for s in five.sections if s.id == "cn2021/s3.2")
    assert s.heading == "深入推进重点领域改革，更大激发市场主体活力"
    assert s.label == "第三部分（二） 深入推进重点领域改革，更大激发市场主体活力"
    assert next(s for s in five.sections if s.id == "cn2021/s3").label == "第三部分 2021年重点工作"
    # a subsection heading that opens its paragraph stays in that paragraph (2022: "（一）着力稳定…。继续做好…")
    p = next(p for p in five.paragraphs if p.id == "cn2022/s3.1/p1")
    assert p.text.startswith("（一）着力稳定宏观经济大盘，保持经济运行在合理区间。继续做好")


def test_salutations_open_the_next_paragraph(five) -> None:
    for report in five.reports:
        assert not [p.id for p in report.paragraphs if p.text.rstrip("：:！!") == "各位代表"]
    opening = next(p for p in five.paragraphs if p.id == "cn2021/s0/p1")
    assert opening.text.startswith("各位代表：现在，我代表国务院") and opening.source_lines == (24, 26)
    assert sum(p.text.startswith("各位代表！") for p in five.paragraphs if p.doc_id == "cn2022") >= 5


@pytest.mark.parametrize("joined", [
    "人民满意、世界瞩目",  # 人 / ​ / 民满意: a zero-width line at a page boundary
    "今年预期目标设定为6%以上",  # 目标设定 / ​ / 为6%以上: no headline made of a broken sentence
    "完善资本市场基础制度",
    "全员劳动生产率增长",
])
def test_words_broken_at_page_boundaries_are_joined(five, joined: str) -> None:
    assert sum(joined in p.text for p in five.paragraphs if p.doc_id == "cn2021") == 1


def test_title_page_is_the_heading_of_the_opening(five) -> None:
    for doc_id in ("cn2021", "cn2022", "cn2023", "cn2024"):
        s0 = next(s for s in five.sections if s.id == f"{doc_id}/s0")
        assert s0.label == "开篇" and s0.heading.startswith("政府工作报告") and "国务院总理" in s0.heading


def test_crlf_bom_indents_and_blank_runs(tmp_path: Path) -> None:
    body = ("\ufeff标题\r\n \r\n\u3000\u3000一、总体要求\r\n \r\n各位代表！\r\n\u3000\u3000\r\n\r\n"
            "\u3000\u3000坚持稳中求进，\u200b推动高质量\r\n\u200b\r\n发展。\r\n\r\n\r\n\r\n"
            "\u3000\u3000（一）扩大内需。消费是主引擎。\r\n\r\n（二）稳定就业\r\n\r\n就业是最大的民生。\r\n")
    (tmp_path / "r.txt").write_bytes(body.encode("utf-8"))
    (tmp_path / "r.json").write_text('{"id": "r"}', encoding="utf-8")
    [report] = load_corpus(tmp_path).reports
    got = [(p.id, p.text, p.source_lines) for p in report.paragraphs]
    assert got == [("r/s1/p1", "各位代表！坚持稳中求进，推动高质量发展。", (5, 8, 10)),
                   ("r/s1.1/p1", "（一）扩大内需。消费是主引擎。", (14,)),
                   ("r/s1.2/p1", "就业是最大的民生。", (18,))]
    assert [s.key for s in report.sections] == ["s1", "s1.1", "s1.2"]  # 标题: the title page, no text of its own
    assert [s.heading for s in report.sections] == ["总体要求", "扩大内需", "稳定就业"]


def test_exclude_marker_must_be_found(tmp_path: Path) -> None:
    (tmp_path / "r.txt").write_text("第一段。\n\n页脚从这里开始。\n\nPublic domain\n", encoding="utf-8")
    (tmp_path / "r.json").write_text(json.dumps({"id": "r", "exclude": ["页脚从这里"]}, ensure_ascii=False),
                                     encoding="utf-8")
    (tmp_path / "s.txt").write_text("第一段。\n", encoding="utf-8")
    (tmp_path / "s.json").write_text(json.dumps({"id": "s", "exclude": ["没有的标记"]}, ensure_ascii=False),
                                     encoding="utf-8")
    loaded = load_corpus(tmp_path)
    [r] = loaded.reports
    assert [p.text for p in r.paragraphs] == ["第一段。"]
    [problem] = loaded.problems
    assert "s.txt" in problem and "没有的标记" in problem


def test_front_matter_lines_count_in_source_lines(tmp_path: Path) -> None:
    (tmp_path / "n.md").write_text("---\nid: n\n---\n\n一段内容。\n", encoding="utf-8")
    [report] = load_corpus(tmp_path).reports
    assert report.paragraphs[0].source_lines == (5,)


def test_corpus_title_from_the_metadata(corpus, five) -> None:
    assert corpus_title(corpus) == "2021年德州市政府工作报告"  # one document: its title, as before
    assert corpus_title(five) == "政府工作报告"  # several places, no home city: neutral
    assert corpus_title(five, "德州市") == "德州市政府工作报告"
    national = type(five)(tuple(r for r in five.reports if r.document.id.startswith("cn")))
    assert corpus_title(national) == "国务院政府工作报告"
