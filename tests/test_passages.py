"""Stage 2: passages are at most one paragraph, carry their citation, and long lists are split."""

from __future__ import annotations

from dzqa.corpus import load_corpus
from dzqa.engine import Engine
from dzqa.passages import make_passages, split_units
from dzqa.settings import Settings


def test_passages_tile_their_paragraphs_and_respect_the_limit(settings: Settings) -> None:
    corpus = load_corpus(settings.corpus_dir)
    passages = make_passages(corpus, settings.chunk_size, settings.max_passage_chars)
    by_paragraph: dict[str, list] = {}
    for p in passages:
        assert 0 < len(p.text) <= 400
        by_paragraph.setdefault(p.citation.paragraph_id, []).append(p)
    for para in corpus.paragraphs:
        parts = by_paragraph[para.id]
        assert "".join(p.text for p in parts) == para.text
        for p in parts:
            assert para.text[p.citation.start:p.citation.end] == p.text
            assert p.citation.section.startswith(("第", "开篇", "应变局"))


def test_targets_list_is_split_so_one_target_can_be_cited(settings: Settings) -> None:
    corpus = load_corpus(settings.corpus_dir)
    passages = make_passages(corpus, settings.chunk_size, settings.max_passage_chars)
    targets = [p for p in passages if p.citation.paragraph_id == "2021/h/p1"]
    assert len(targets) >= 3
    assert all(p.id.startswith("2021/h/p1/c") for p in targets)
    # a continuation keeps its heading and the paragraph's opening sentence as retrieval context
    assert all("2021年,德州在这八个方面发力" in p.context for p in targets)
    unit_texts = [u.text for i, p in enumerate(targets) for u in split_units(i, p.text)]
    assert any(u.startswith("城镇登记失业率控制在4.5%以内") for u in unit_texts)


def test_units_tile_the_passage() -> None:
    text = "实施教育提升工程。开展学前教育攻坚年行动,新建扩建公办幼儿园38所,新增学位9980个。"
    units = split_units(0, text)
    assert "".join(u.text for u in units) == text
    assert [u.text for u in units][0] == "实施教育提升工程。"


def test_index_passages_match_the_corpus(engine: Engine) -> None:
    corpus_text = {p.id: p.text for p in engine.corpus.paragraphs}
    headings = {f"{s.id}/h": s.heading for s in engine.sections()}
    for p in engine.index.passages:
        if p.citation.paragraph_number == 0:  # a section's heading
            assert headings[p.id] == p.text and p.citation.paragraph_id == p.id
            continue
        assert corpus_text[p.citation.paragraph_id][p.citation.start:p.citation.end] == p.text
