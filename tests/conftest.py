"""Shared fixtures: the offline data in ../shared/data, skipped with a reason when absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.paths import data_dir

# Tests never reach the Hugging Face hub: fail downloads at once instead of after network retries.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

_TIKTOKEN_CACHE = data_dir() / "tiktoken-cache"
if "TIKTOKEN_CACHE_DIR" not in os.environ and _TIKTOKEN_CACHE.is_dir():
    os.environ["TIKTOKEN_CACHE_DIR"] = str(_TIKTOKEN_CACHE)


def _require(relative: str) -> Path:
    path = data_dir() / relative
    if not path.exists():
        pytest.skip(f"needs {path} (offline data; see ../shared/data/README.md)")
    return path


@pytest.fixture(scope="session")
def verdict_text() -> str:
    return _require("corpus/the-verdict.txt").read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def sms_spam_path() -> Path:
    return _require("sms-spam/SMSSpamCollection")


@pytest.fixture(scope="session")
def gpt2_encoding():
    if not (Path(os.environ.get("TIKTOKEN_CACHE_DIR", "/nonexistent")).is_dir()):
        pytest.skip("needs the tiktoken gpt2 vocabulary: set TIKTOKEN_CACHE_DIR (see README)")
    from core.gpt.tokenizers import gpt2_tokenizer

    return gpt2_tokenizer()
