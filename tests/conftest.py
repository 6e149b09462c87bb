"""Shared fixtures: a copy of the shipped corpus with its index, built once per session."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from bot.config import Settings, load_settings
from bot.index import PassageIndex, ensure_index

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/fake_bot_api.py


@pytest.fixture(scope="session")
def shipped(tmp_path_factory) -> tuple[Settings, PassageIndex]:
    """Settings pointing at a temporary copy of corpus/ and its built index."""
    base = tmp_path_factory.mktemp("shipped")
    shutil.copytree(ROOT / "corpus", base / "corpus")
    settings = load_settings(ROOT / "config" / "settings.yaml").with_paths(base / "corpus", base / "index")
    index, _ = ensure_index(settings)
    return settings, index
