"""Shared fixtures: the real report, the real model and the real index (built by `make test` first)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from dzqa.engine import Engine
from dzqa.settings import Settings, get_settings

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"


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
