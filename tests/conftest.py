"""Shared fixtures: the shipped corpus indexed once per test session into a temporary folder."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from bot.index.builder import ensure_index
from bot.index.parts import PassageIndex
from bot.search.bm25 import compile_scorer
from bot.settings import Settings, load_settings

PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def compiled_scorer() -> None:
    """The compiled scorer ready before any test (compiled now on a fresh checkout), so that the
    tests exercise it, not the numpy scorer that answers while it is compiled aside."""
    compile_scorer()


@pytest.fixture(scope="session")
def settings(tmp_path_factory) -> Settings:
    """Project settings with the index in a temporary folder."""
    base = load_settings(PROJECT / "config" / "settings.yaml")
    return base.with_paths(PROJECT / "corpus", tmp_path_factory.mktemp("index"))


@pytest.fixture(scope="session")
def shipped_index(settings) -> PassageIndex:
    index, _ = ensure_index(settings)
    return index


def write_article(folder: Path, name: str, title: str, text: str, **meta) -> Path:
    """Write a corpus .md file with front matter (for tests that need their own corpus)."""
    import yaml

    front = {"title": title, **meta}
    path = folder / name
    path.write_text(
        "---\n" + yaml.safe_dump(front, allow_unicode=True, sort_keys=False) + "---\n" + text,
        encoding="utf-8",
    )
    return path


sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/fake_bot_api.py


@pytest.fixture(scope="session")
def shipped(settings, shipped_index) -> tuple[Settings, PassageIndex]:
    """The project settings (index in a temporary folder) and the shipped corpus's index."""
    return settings, shipped_index


@pytest.fixture
def own(shipped, tmp_path) -> Settings:
    """Settings with a copy of the shipped corpus (in ``tmp_path / "corpus"``) and an index of its own."""
    settings, _ = shipped
    corpus = tmp_path / "corpus"
    shutil.copytree(settings.corpus, corpus)
    settings = settings.with_paths(corpus, tmp_path / "index")
    ensure_index(settings)
    return settings
