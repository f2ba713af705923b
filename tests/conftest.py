"""Shared fixtures: the offline data in ../shared/data, skipped with a reason when absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.paths import SMS_SPAM_FILE, TINY_SHAKESPEARE_FILE, VERDICT_FILE, data_dir, tiktoken_environment

# Tests never reach the Hugging Face hub: fail downloads at once instead of after network retries.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

os.environ.update(tiktoken_environment())  # as the app does at start-up


def _require(relative: str) -> Path:
    path = data_dir() / relative
    if not path.exists():
        pytest.skip(f"needs {path} (offline data; see ../shared/data/README.md)")
    return path


@pytest.fixture(scope="session")
def verdict_text() -> str:
    return _require(VERDICT_FILE).read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def tiny_shakespeare_path() -> Path:
    return _require(TINY_SHAKESPEARE_FILE)


@pytest.fixture(scope="session")
def sms_spam_path() -> Path:
    return _require(SMS_SPAM_FILE)


@pytest.fixture(scope="session")
def gpt2_encoding():
    if not (Path(os.environ.get("TIKTOKEN_CACHE_DIR", "/nonexistent")).is_dir()):
        pytest.skip("needs the tiktoken gpt2 vocabulary: set TIKTOKEN_CACHE_DIR (see README)")
    from core.gpt.tokenizers import gpt2_tokenizer

    return gpt2_tokenizer()


@pytest.fixture(scope="session")
def instruction_data_path() -> Path:
    return _require("instruction/instruction-data.json")
