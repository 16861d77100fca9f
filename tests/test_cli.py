"""The command line, through its entry point, as another tool would use it."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from dzqa.cli import main

HIT_KEYS = {"id", "doc", "section", "text", "score", "doc_id", "year", "place"}


def run(capsys, *argv: str, stdin: str | None = None, monkeypatch=None) -> tuple[int, str, str]:
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_ask_json_contract(capsys, engine) -> None:
    code, out, _ = run(capsys, "ask", "今年要新建多少所公办幼儿园？", "--json")
    assert code == 0
    obj = json.loads(out)
    assert set(obj) == {"question", "answer", "found", "kind", "source", "citations", "related"}
    assert obj["question"] == "今年要新建多少所公办幼儿园？" and obj["found"] is True
    assert "新建扩建公办幼儿园38所" in obj["answer"]
    assert obj["citations"] and all(set(c) == HIT_KEYS for c in obj["citations"])
    assert obj["citations"][0]["id"] == "2021/s6/p2"
    assert obj["citations"][0]["section"].startswith("第六部分")


def test_search_json_contract(capsys, engine) -> None:
    code, out, _ = run(capsys, "search", "农村公路", "-k", "3", "--json")
    obj = json.loads(out)
    assert code == 0 and set(obj) == {"question", "hits"} and len(obj["hits"]) == 3
    assert all(set(h) == HIT_KEYS and isinstance(h["score"], float) for h in obj["hits"])


def test_batch_from_stdin_one_json_line_per_question(capsys, monkeypatch, engine) -> None:
    code, out, _ = run(capsys, "ask", "-", "--json", stdin="今年招聘多少老师？\n\n德州明天天气怎么样\n",
                       monkeypatch=monkeypatch)
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [x["found"] for x in lines] == [True, False]
    assert lines[1]["citations"] == []


def test_human_readable_answer_shows_numbered_citations(capsys, engine) -> None:
    code, out, _ = run(capsys, "ask", "今年要新建多少所公办幼儿园？")
    assert code == 0
    assert "[1] 《2021年德州市政府工作报告》第六部分 聚焦基本公共服务需求 坚定不移增进民生福祉 第2段" in out


@pytest.mark.parametrize("argv, message", [
    (["ask", "   "], "问题不能为空"),
    (["ask", "字" * 501], "最多 500 个字"),
    (["eval", "/nonexistent.jsonl"], "cannot read"),
])
def test_user_errors_are_one_line_without_traceback(capsys, engine, argv, message) -> None:
    code, out, err = run(capsys, *argv)
    assert code != 0 and message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_bad_option_is_rejected_by_argparse(capsys) -> None:
    with pytest.raises(SystemExit) as e:
        main(["search", "x", "-k", "0"])
    assert e.value.code == 2
    assert "between 1 and 50" in capsys.readouterr().err


def test_info_json(capsys, engine) -> None:
    code, out, _ = run(capsys, "info", "--json")
    info = json.loads(out)
    assert code == 0 and info["dim"] == 384 and info["passages"] > 25
    assert info["documents"][0]["title"] == "2021年德州市政府工作报告"
    assert len(info["fingerprint"]) == 64 and info["built_at"]


def test_eval_prints_metrics_and_misses(capsys, engine, tmp_path) -> None:
    f = tmp_path / "q.jsonl"
    f.write_text('{"q": "今年招聘多少老师？", "gold": ["招聘教师1500人以上"], "type": "numeric"}\n'
                 '{"q": "德州明天天气怎么样", "gold": [], "type": "offtopic"}\n', encoding="utf-8")
    code, out, _ = run(capsys, "eval", str(f))
    assert code == 0 and "hit@1" in out and "off_topic_refused" in out and "misses" in out


def test_help_is_instant_without_heavy_imports() -> None:
    code = ("import sys, dzqa.cli\n"
            "try:\n    dzqa.cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('torch', 'gradio', 'faiss', 'sentence_transformers') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "usage: dzqa" in done.stdout


def test_python_dash_m_entry_point() -> None:
    done = subprocess.run([sys.executable, "-m", "dzqa", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "ask" in done.stdout


# ------------------------------------------------------------------------------- document, year, section


@pytest.mark.parametrize("argv, message", [
    (["search", "国内生产总值", "--section", "cn2023"], "unknown section 'cn2023'"),
    (["ask", "今年要新建多少所公办幼儿园？", "--section", "2021/s99"], "unknown section"),
    (["search", "农村公路", "--doc", "cn2099"], "unknown document 'cn2099'; one of 2021"),
    (["ask", "农村公路", "--doc", "nope"], "unknown document"),
    (["search", "农村公路", "--year", "1999"], "no report of the year 1999; the corpus has 2021"),
    (["ask", "农村公路", "--year", "去年"], "year must be a number"),
])
def test_unknown_filters_are_one_line_and_exit_2(capsys, engine, argv, message) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_ask_with_a_section_and_the_document_filters(capsys, engine) -> None:
    code, out, _ = run(capsys, "ask", "今年要新建多少所公办幼儿园？", "--section", "2021/s6", "--doc", "2021",
                       "--year", "2021", "--json")
    obj = json.loads(out)
    assert code == 0 and obj["found"] and obj["citations"]
    assert all(c["id"].startswith("2021/s6/") for c in obj["citations"])


@pytest.fixture
def five_cli(monkeypatch, five_engine):
    monkeypatch.setattr("dzqa.cli._engine", lambda **kw: five_engine)
    return five_engine


@pytest.mark.parametrize("argv, check", [
    (["--doc", "cn2023"], lambda h: h["doc_id"] == "cn2023"),
    (["--year", "2022"], lambda h: h["year"] == 2022 and h["doc_id"] == "cn2022"),
    (["--year", "2021"], lambda h: h["doc_id"] in ("2021", "cn2021")),
    (["--section", "cn2021/s3"], lambda h: h["id"].startswith(("cn2021/s3/", "cn2021/s3."))),
    (["--section", "cn2021/s3.2"], lambda h: h["id"].startswith("cn2021/s3.2/")),
])
def test_search_filters_on_five_reports(capsys, five_cli, argv, check) -> None:
    code, out, _ = run(capsys, "search", "国内生产总值增长", "-k", "8", *argv, "--json")
    hits = json.loads(out)["hits"]
    assert code == 0 and hits and all(check(h) for h in hits), [h["id"] for h in hits]


def test_ask_filtered_to_one_national_report(capsys, five_cli) -> None:
    code, out, _ = run(capsys, "ask", "国内生产总值增长目标是多少？", "--doc", "cn2024", "--json")
    obj = json.loads(out)
    assert code == 0 and obj["citations"] and {c["doc_id"] for c in obj["citations"]} == {"cn2024"}
    assert "5%左右" in obj["answer"]


def test_a_document_given_as_section_says_so(capsys, five_cli) -> None:
    code, _, err = run(capsys, "search", "就业", "--section", "cn2023")
    assert code == 2 and "cn2023 is a document" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "search", "就业", "--doc", "cn2023", "--section", "2021/s6")
    assert code == 2 and "exclude each other" in err
