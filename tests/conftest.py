"""Shared fixtures: the real report, the real model and the real index (built by `make test` first)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any, Callable

import pytest

from dzqa.engine import Engine
from dzqa.settings import Settings, get_settings
from pg_support import pg_server, pg_url  # noqa: F401  (a real PostgreSQL server for the database tests)

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
#: four national reports, dirty on purpose (see its README); in CI and developer sessions, not in a user's clone
EXTRA = ROOT.parent / "shared" / "corpus-extra"
#: their sidecars: test data of this repository (the .txt files are never copied into it)
EXTRA_SIDECARS = DATA / "corpus-extra"
EXTRA_MISSING = (f"{EXTRA} is absent (a user's clone has no ../shared/corpus-extra/): "
                 f"the tests of the five-report corpus are skipped")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_target(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """The server's database on each engine it runs on: a SQLite file, or a fresh database on the test
    session's real PostgreSQL server (tests/pg_support.py)."""
    if request.param == "sqlite":
        return tmp_path / "db.sqlite3"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture(scope="session")
def settings() -> Settings:
    return get_settings()


@pytest.fixture(scope="session")
def engine(settings: Settings) -> Engine:
    return Engine.open(settings)


@pytest.fixture(scope="session")
def questions() -> list[dict]:
    items = []
    for name in ("questions.jsonl", "calibration.jsonl"):
        items += [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line]
    return items


@pytest.fixture(scope="session")
def every_question() -> list[tuple[str, list[str]]]:
    """Every question of every set in tests/data, each with the earlier turns of its dialogue as history."""
    out: list[tuple[str, list[str]]] = []
    for path in sorted(DATA.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            obj = json.loads(line)
            turns = obj.get("turns") or [obj]
            for i, turn in enumerate(turns):
                out.append((turn["q"], [t["q"] for t in turns[:i]]))
    return out


@pytest.fixture
def index_copy(tmp_path: Path, engine: Engine, settings: Settings) -> Settings:
    """Settings pointing at a private copy of the built index (to damage or make stale)."""
    target = tmp_path / "index"
    target.mkdir()
    shutil.copytree(engine.index.path, target / engine.index.path.name)
    return settings.replace(index_dir=target)


@pytest.fixture
def corpus_copy(tmp_path: Path, settings: Settings) -> Path:
    target = tmp_path / "corpus"
    shutil.copytree(settings.corpus_dir, target)
    return target


@pytest.fixture(scope="session")
def five_corpus(tmp_path_factory: pytest.TempPathFactory, settings: Settings) -> Path:
    """A corpus folder in tmp: a copy of corpus/ plus the four national reports of ../shared/corpus-extra with
    the sidecars of tests/data/corpus-extra (skipped with the reason when that folder is absent)."""
    sidecars = sorted(EXTRA_SIDECARS.glob("*.json"))
    if not EXTRA.is_dir() or not all((EXTRA / f"{s.stem}.txt").is_file() for s in sidecars):
        pytest.skip(EXTRA_MISSING)
    target = tmp_path_factory.mktemp("five") / "corpus"
    shutil.copytree(settings.corpus_dir, target)
    for sidecar in sidecars:
        shutil.copyfile(EXTRA / f"{sidecar.stem}.txt", target / f"{sidecar.stem}.txt")
        shutil.copyfile(sidecar, target / sidecar.name)
    return target


@pytest.fixture(scope="session")
def five_settings(five_corpus: Path, settings: Settings) -> Settings:
    """Settings for the five-report corpus, with its own index folder inside the (git-ignored) index folder:
    built once, then loaded by later sessions (the index is keyed by the corpus content, not its path)."""
    return settings.replace(corpus_dir=five_corpus, index_dir=settings.index_dir / "five-reports")


@pytest.fixture(scope="session")
def five_engine(five_settings: Settings) -> Engine:
    return Engine.open(five_settings)


@pytest.fixture(scope="module")
def make_client(engine: Engine, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Any]:
    """``make_client(**settings changes)``: a TestClient on the full app (API, pages, Gradio), own database."""
    from fastapi.testclient import TestClient

    from dzqa.web.server import create_app

    made: dict[str, TestClient] = {}

    def make(**changes: Any) -> TestClient:
        key = json.dumps(changes, sort_keys=True, default=str)
        if key not in made:
            db = tmp_path_factory.mktemp("db") / "feedback.sqlite3"
            s = settings.replace(**{"feedback_db": db, **changes})
            made[key] = TestClient(create_app(engine, s))
        return made[key]

    return make


@pytest.fixture(scope="module")
def client(make_client: Callable[..., Any]) -> Any:
    return make_client()


def db_rows(client: Any, sql: str) -> list[tuple]:
    """Rows of the feedback database behind a TestClient."""
    client.app.state.services.store.flush()  # asked questions are written in the background
    path = client.app.state.services.settings.feedback_db
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()
