"""Where the app finds data, caches downloads and keeps training runs."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Data files, relative to data_dir() or cache_dir(): every module names them through these.
VERDICT_FILE = "corpus/the-verdict.txt"
TINY_SHAKESPEARE_FILE = "corpus/tinyshakespeare.txt"
SMS_SPAM_FILE = "sms-spam/SMSSpamCollection"
INSTRUCTION_FILE = "instruction/instruction-data.json"
TIKTOKEN_CACHE = "tiktoken-cache"  # an offline copy of tiktoken's download cache

# The two files tiktoken downloads for the `gpt2` encoding (cached under the SHA-1 of each URL).
GPT2_VOCAB_URLS = (
    "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/vocab.bpe",
    "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/encoder.json",
)


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


def game_scores_file() -> Path:
    """The next-token game's scoreboard: the learner's own results, so beside the runs, not in the cache."""
    return runs_dir() / "next-token-game.json"


def find_data_file(relative: str) -> Path | None:
    """The first existing copy of `relative` in the data folder or the download cache."""
    for base in (data_dir(), cache_dir()):
        candidate = base / relative
        if candidate.is_file():
            return candidate
    return None


def tiktoken_cache_dir() -> Path:
    """The folder tiktoken reads the GPT-2 vocabulary from, once `tiktoken_environment()` is applied.

    tiktoken's own variables win (`TIKTOKEN_CACHE_DIR`, then `DATA_GYM_CACHE_DIR`); without them
    the offline copy `<data_dir>/tiktoken-cache` when there is one, else tiktoken's default cache.
    """
    for variable in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if os.environ.get(variable):
            return Path(os.environ[variable])
    offline = data_dir() / TIKTOKEN_CACHE
    return offline if offline.is_dir() else Path(tempfile.gettempdir()) / "data-gym-cache"


def tiktoken_cached_file(url: str, folder: Path | None = None) -> Path:
    """Where tiktoken keeps its download of `url`: a file named by the SHA-1 of the URL."""
    return (folder or tiktoken_cache_dir()) / hashlib.sha1(url.encode()).hexdigest()


def tiktoken_environment() -> dict[str, str]:
    """What to add to the environment, once at start-up, so tiktoken finds the offline vocabulary.

    `{"TIKTOKEN_CACHE_DIR": <data_dir>/tiktoken-cache}` when that copy exists and neither of tiktoken's
    variables is set, else nothing. Library code never changes the environment; entry points apply this.
    """
    if any(os.environ.get(v) for v in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR")):
        return {}
    offline = data_dir() / TIKTOKEN_CACHE
    return {"TIKTOKEN_CACHE_DIR": str(offline)} if offline.is_dir() else {}
