"""Stage 1: the report is read faithfully, page breaks repaired, sections and ids recognised."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dzqa.corpus import CorpusError, load_corpus, parse_report
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
