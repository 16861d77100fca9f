"""``dzqa``: a thin command line over the library (:class:`dzqa.engine.Engine`).

Heavy libraries (torch, faiss, gradio) are imported inside the commands, so ``dzqa --help`` is instant.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

EXIT_USER_ERROR = 2

EPILOG = """examples:
  dzqa ask "今年要新建多少所公办幼儿园？"
  dzqa search "农村公路" -k 3 --json
  dzqa ask "国内生产总值增长目标是多少？" --doc cn2024
  dzqa search "粮食产量" --year 2022 --section cn2022/s3
  printf '问题一\\n问题二\\n' | dzqa ask - --json
  dzqa eval tests/data/questions.jsonl
  dzqa curated export links.jsonl && dzqa curated import links.jsonl --author 王芳
  dzqa review
settings come from DZQA_* environment variables (see README)."""


class CliError(Exception):
    """A mistake the user can fix; printed as one line on stderr."""


def _engine(**kw: Any) -> Any:
    from .engine import Engine

    return Engine.open(**kw)


def _questions(arg: str) -> Iterator[str]:
    """One question, or with ``-`` one per stdin line (blank lines skipped)."""
    if arg != "-":
        yield arg
        return
    for line in sys.stdin:
        line = line.rstrip("\r\n")
        if line.strip():
            yield line


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _each(questions: Iterable[str], fn: Callable[[str], None]) -> int:
    """Run ``fn`` per question; a bad question is reported and the batch goes on."""
    from .engine import QuestionError

    failed = 0
    for q in questions:
        try:
            fn(q)
        except QuestionError as e:
            failed += 1
            print(f"dzqa: {e}", file=sys.stderr)
    return 1 if failed else 0


# ------------------------------------------------------------------------------------------- commands


def cmd_build(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    bar: Any = None

    def progress(stage: str, done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc=stage, unit="text", file=sys.stderr)
        bar.update(done - bar.n)

    print("dzqa: preparing model and index …", file=sys.stderr)
    engine = _engine(rebuild=True, progress=progress)
    if bar is not None:
        bar.close()
    info = engine.info()
    cache = info.get("embedding_cache") or {}
    reused = f" ({cache['reused']} of them from the embedding cache)" if cache.get("reused") else ""
    print(f"built {info['passages']} passages from {len(info['documents'])} document(s){reused} in "
          f"{info['build_seconds']} s → {info['index_path']}")
    return 0


def _filters(engine: Any, args: argparse.Namespace) -> dict[str, Any]:
    """--doc, --year and --section, checked once by the engine before any question (an unknown one is a
    one-line error and exit 2)."""
    filters = {"doc": args.doc, "year": args.year, "section": args.section}
    engine.filter_rows(**filters)
    return filters


def cmd_search(args: argparse.Namespace) -> int:
    engine = _engine()
    filters = _filters(engine, args)

    def one(q: str) -> None:
        result = engine.search(q, k=args.k, **filters)
        if args.json:
            _print_json(result.to_json())
            return
        print(f"问题：{q}")
        if not result.hits:
            print("  (no passage found)")
        for i, h in enumerate(result.hits, 1):
            c = h.passage.citation
            print(f"[{i}] {h.score:.4f}  {c.label()}  ({h.passage.id})")
            print(f"    {h.passage.text}")
        print()

    return _each(_questions(args.question), one)


def format_answer(a: Any) -> str:
    lines = [a.text]
    if a.citations:
        lines.append("")
    for i, h in enumerate(a.citations, 1):
        c = h.passage.citation
        lines.append(f"[{i}] {c.label()}  ({h.passage.id})")
        lines.append(f"    {h.passage.text}")
    return "\n".join(lines)


def cmd_ask(args: argparse.Namespace) -> int:
    engine = _engine()
    filters = _filters(engine, args)

    def one(q: str) -> None:
        a = engine.ask(q, **filters)
        if args.json:
            _print_json(a.to_json())
        else:
            print(format_answer(a))
            print()

    return _each(_questions(args.question), one)


def cmd_info(args: argparse.Namespace) -> int:
    info = _engine().info()
    if args.json:
        _print_json(info)
        return 0
    width = max(len(k) for k in info)
    for k, v in info.items():
        if k == "documents":
            v = "; ".join(f"{d['title']} ({d['id']}, {d['paragraphs']} paragraphs)" for d in v)
        if k == "curated_stale":
            v = "; ".join(f"{x['question']} → {x['problem']}" for x in v) or "none"
        print(f"{k:<{width}}  {v}")
    return 0


METRIC_KEYS = ("hit@1", "hit@3", "mrr", "answer_has_gold", "in_scope_answered", "off_topic_handled",
               "partial_as_partial", "off_topic_refused", "follow_up_right")


def cmd_eval(args: argparse.Namespace) -> int:
    from .evaluate import EvalReport, evaluate, load_questions

    engine = _engine()
    report = EvalReport()
    for name in args.file:
        report.results += evaluate(engine, load_questions(Path(name))).results
    fitted = None
    if args.fit:
        from .evaluate import fit_relevance

        fitted = {**fit_relevance(report, engine.encoder.encode),
                  "fitted_on": [Path(n).name for n in args.file]}
    if args.json:
        _print_json({"metrics": report.metrics(), "by_type": report.by_type(), "misses": report.misses(),
                     **({"fitted": fitted} if fitted else {})})
    else:
        m = report.metrics()
        print(f"{', '.join(args.file)}: {m['questions']} questions ({m['in_scope']} answerable, {m['partial']} "
              f"partial, {m['off_topic']} off-topic; {m['follow_ups']} follow-up turns)")
        for key in METRIC_KEYS:
            print(f"  {key:<18} {m[key]}")
        print("\nby type:")
        cols = ("questions", "hit@3", "answer_has_gold", "in_scope_answered", "off_topic_handled", "follow_up_right")
        print("  " + f"{'type':<15}" + "".join(f"{c:>18}" for c in cols))
        for t, tm in report.by_type().items():
            print("  " + f"{t:<15}" + "".join(f"{'-' if tm[c] is None else tm[c]:>18}" for c in cols))
        misses = report.misses()
        print(f"\nmisses ({len(misses)}):")
        for miss in misses:
            turn = f" (turn {miss['turn'] + 1})" if miss["turn"] else ""
            print(f"  [{miss['type']}]{turn} {miss['q']}  — {', '.join(miss['problems'])} "
                  f"(relevance {miss['relevance']})")
            print(f"      → {miss['answer'][:100]}")
    if fitted:
        from .answer import fitted_models

        models = fitted_models()
        models[engine.spec.identity] = fitted
        target = Path(__file__).with_name("relevance.json")
        target.write_text(json.dumps(models, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        cv = fitted["cross_validated"]
        print(f"\nrelevance model fitted on {fitted['questions']} questions and written to {target} for "
              f"{engine.spec.identity}; {cv['folds']}-fold cross-validation: covered kept {cv['covered_kept']}, "
              f"refusals refused {cv['refusals_refused']}", file=sys.stderr)
    return 0


def _curated_store() -> Any:
    from .curated import CuratedStore
    from .settings import get_settings

    return CuratedStore(get_settings().database)  # the server's (DZQA_DATABASE_URL or DZQA_FEEDBACK_DB)


def cmd_curated_export(args: argparse.Namespace) -> int:
    lines = list(_curated_store().export_lines())
    text = "".join(line + "\n" for line in lines)
    if args.file == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        Path(args.file).write_text(text, encoding="utf-8")
        print(f"exported {len(lines)} curated link(s) to {args.file}", file=sys.stderr)
    return 0


def cmd_curated_import(args: argparse.Namespace) -> int:
    from .curated import CuratedError

    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise CliError(f"cannot read {args.file}: {e}") from None
    store = _curated_store()
    engine = _engine()  # passage ids are checked against the corpus
    try:
        counts = store.import_lines(text.splitlines(), author=args.author, resolve=engine.resolve_passages,
                                    source="stdin" if args.file == "-" else args.file)
    except CuratedError as e:
        raise CliError(f"{e} (nothing imported)") from None
    print(f"curated links: {counts['created']} created, {counts['updated']} updated, "
          f"{counts['unchanged']} unchanged", file=sys.stderr)
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    queue = _curated_store().review(days=args.days, limit=args.limit)
    if args.json:
        for item in queue:
            _print_json(item)
        return 0
    if not queue:
        print(f"(the review queue is empty: no refused, partial or 👎 questions in {args.days} days)")
    for item in queue:
        why = ", ".join(f"{k} ×{n}" for k, n in item["reasons"].items())
        linked = ""
        if item["link"]:
            linked = "  → linked: " + (", ".join(item["link"]["passages"]) if "passages" in item["link"]
                                       else "not covered")
        print(f"{item['count']:>4}×  {item['last']}  {item['question']}  [{why}]{linked}")
        if item["citations"]:
            print(f"       cited: {', '.join(item['citations'])}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from .web.server import serve

    serve(host=args.host, port=args.port)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from .bench import main as bench_main

    return int(bench_main(args) or 0)


def cmd_loadtest(args: argparse.Namespace) -> int:
    from .loadtest import main as loadtest_main

    return int(loadtest_main(args) or 0)


# ---------------------------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dzqa", description="Cited answers from the 2021 Dezhou government "
                                "work report (德州市政府工作报告问答), offline.", epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    b = sub.add_parser("build", help="build or rebuild the index (converts the model on first use)")
    b.set_defaults(fn=cmd_build)

    s = sub.add_parser("search", help="top passages for a question")
    s.add_argument("question", metavar="QUESTION", help="the question, or - to read one per line from stdin")
    s.add_argument("-k", type=_k, default=5, help="number of passages (1-50, default 5)")
    _add_filters(s)
    s.add_argument("--json", action="store_true", help="one JSON object per question per line")
    s.set_defaults(fn=cmd_search)

    a = sub.add_parser("ask", help="a cited answer to a question")
    a.add_argument("question", metavar="QUESTION", help="the question, or - to read one per line from stdin")
    _add_filters(a)
    a.add_argument("--json", action="store_true", help="one JSON object per question per line")
    a.set_defaults(fn=cmd_ask)

    i = sub.add_parser("info", help="model, index and corpus facts")
    i.add_argument("--json", action="store_true")
    i.set_defaults(fn=cmd_info)

    e = sub.add_parser("eval", help="retrieval and answer quality on JSONL question sets")
    e.add_argument("file", metavar="FILE", nargs="+",
                   help='JSONL of {"q", "gold": [substrings], "type", "expect"} or {"turns": [...]}')
    e.add_argument("--json", action="store_true", help="metrics, per-type metrics and misses as JSON")
    e.add_argument("--fit", action="store_true",
                   help="fit the relevance model on these files (with cross-validation) and store it for this model")
    e.set_defaults(fn=cmd_eval)

    c = sub.add_parser("curated", help="staff-curated links: export or import them as JSONL")
    csub = c.add_subparsers(dest="curated_command", metavar="ACTION")
    csub.required = True
    ce = csub.add_parser("export", help='write every link as one JSON line ({"question", "passages"} or '
                                        '{"question", "covered": false}, then hits, author, times)')
    ce.add_argument("file", metavar="FILE", help="the JSONL file, or - for stdout")
    ce.set_defaults(fn=cmd_curated_export)
    ci = csub.add_parser("import", help="add or update links from JSONL (all or nothing; twice changes nothing)")
    ci.add_argument("file", metavar="FILE", help="the JSONL file, or - for stdin")
    ci.add_argument("--author", default="cli", help="the staff name written to the audit table (default cli)")
    ci.set_defaults(fn=cmd_curated_import)

    r = sub.add_parser("review", help="the review queue: refused, partial and 👎 questions, most frequent first")
    r.add_argument("--days", type=int, default=30, help="look back this many days (default 30)")
    r.add_argument("--limit", type=int, default=50, help="at most this many questions (default 50)")
    r.add_argument("--json", action="store_true", help="one JSON object per queued question")
    r.set_defaults(fn=cmd_review)

    v = sub.add_parser("serve", help="serve the web chat, staff desk and JSON API")
    v.add_argument("--host", default=None, help="address to bind (default DZQA_HOST or 127.0.0.1)")
    v.add_argument("--port", type=int, default=None, help="port (default DZQA_PORT or 7860)")
    v.set_defaults(fn=cmd_serve)

    # the options of these two belong to their modules (dzqa/bench.py, dzqa/loadtest.py)
    bn = sub.add_parser("bench", help="speed table: encoders, search/ask stages, HTTP, cold start, growth")
    _add_module_arguments(bn, "bench")
    bn.set_defaults(fn=cmd_bench)

    lt = sub.add_parser("loadtest", help="bounded load test of a local server (loopback only)")
    _add_module_arguments(lt, "loadtest")
    lt.set_defaults(fn=cmd_loadtest)
    return p


def _add_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--doc", metavar="ID", help="only one document, by its id (see `dzqa info`), e.g. 2021")
    parser.add_argument("--year", metavar="Y", help="only the reports of one year, e.g. 2021")
    parser.add_argument("--section", metavar="ID",
                        help="only one section id (with its subsections), e.g. 2021/s6 or cn2021/s3")


def _add_module_arguments(parser: argparse.ArgumentParser, module: str) -> None:
    """Let dzqa/<module>.py declare its own options (``add_arguments(parser)``) without importing anything heavy."""
    import importlib

    try:
        mod = importlib.import_module(f".{module}", __package__)
    except ImportError:
        return
    if hasattr(mod, "add_arguments"):
        mod.add_arguments(parser)


def _k(value: str) -> int:
    try:
        k = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {value!r}") from None
    if not 1 <= k <= 50:
        raise argparse.ArgumentTypeError("must be between 1 and 50")
    return k


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    _quiet_libraries(args.verbose)
    from .corpus import CorpusError
    from .engine import UserError
    from .evaluate import QuestionFileError
    from .settings import SettingsError

    try:
        return int(args.fn(args) or 0)
    except (*UserError, CorpusError, QuestionFileError, SettingsError, CliError) as e:
        print(f"dzqa: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("dzqa: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `dzqa ask - | head`
        return 0


def _quiet_libraries(verbose: bool) -> None:
    """Keep third-party chatter (progress bars, deprecation notes) off the terminal."""
    import os
    import warnings

    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    if not verbose:
        warnings.filterwarnings("ignore")
        for name in ("faiss", "bm25s", "sentence_transformers", "transformers", "jieba", "torch"):
            logging.getLogger(name).setLevel(logging.ERROR)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
