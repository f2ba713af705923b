"""Fixtures for the AppTest tests: a journal folder of the test's own, so the real one is never written."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from core.paths import PROJECT_ROOT


@pytest.fixture
def journal_copy(tmp_path, monkeypatch) -> Path:
    """A copy of the starter journal that the app reads and writes instead of the real one."""
    folder = tmp_path / "journal"
    shutil.copytree(PROJECT_ROOT / "journal", folder)
    monkeypatch.setenv("LLM_JOURNAL_DIR", str(folder))
    monkeypatch.setenv("LLM_JOURNAL_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.delenv("LLM_JOURNAL_READONLY", raising=False)
    return folder


@pytest.fixture
def empty_journal(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "empty-journal"
    folder.mkdir()
    monkeypatch.setenv("LLM_JOURNAL_DIR", str(folder))
    monkeypatch.setenv("LLM_JOURNAL_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.delenv("LLM_JOURNAL_READONLY", raising=False)
    return folder
