"""Where the app finds data, caches downloads and keeps training runs."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """Folder with offline data (`corpus/`, `sms-spam/`, `tiktoken-cache/`).

    `LLM_JOURNAL_DATA_DIR` wins; otherwise `../shared/data` beside the project.
    """
    env = os.environ.get("LLM_JOURNAL_DATA_DIR")
    return Path(env) if env else PROJECT_ROOT.parent / "shared" / "data"


def cache_dir() -> Path:
    """Writable folder for downloads (`LLM_JOURNAL_CACHE_DIR`, default `~/.cache/llm-journal`)."""
    env = os.environ.get("LLM_JOURNAL_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "llm-journal"


def runs_dir() -> Path:
    """Folder for training runs and checkpoints (`LLM_JOURNAL_RUNS_DIR`, default `runs/`)."""
    env = os.environ.get("LLM_JOURNAL_RUNS_DIR")
    return Path(env) if env else PROJECT_ROOT / "runs"


def find_data_file(relative: str) -> Path | None:
    """The first existing copy of `relative` in the data folder or the download cache."""
    for base in (data_dir(), cache_dir()):
        candidate = base / relative
        if candidate.is_file():
            return candidate
    return None
