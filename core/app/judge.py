"""Judging a fine-tuned model's answers (book section 7.8).

The book's judge is a larger model served by Ollama on the learner's machine: it scores each test
response from 0 to 100 against the reference answer. Found at run time with a short timeout, so
nothing waits when no server runs. Without one, the learner scores the answers (0-100, or the 1-5
rubric) and `overlap_score` gives a rough automatic proxy: a ROUGE-L-like F1 of the longest common
word subsequence, which rewards saying the same words in the same order, not being right.
Scores are saved beside the run's responses, atomically.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.atomic import write_text
from core.errors import Unavailable, UserError
from core.gpt.instruction_data import format_input

OLLAMA_URL = "http://localhost:11434"
DEFAULT_MODEL = "llama3"
DETECT_TIMEOUT_S = 1.5
ANSWER_TIMEOUT_S = 120.0
BOOK_MEAN_SCORE = 50  # the book: Llama 3 (8B) scores gpt2-medium's fine-tuned answers about 50 on average
SCORES_FILE = "scores.json"
SCALES = {"0-100": (0, 100), "1-5": (1, 5)}
RUBRIC = {1: "wrong or off-topic", 2: "mostly wrong", 3: "partly right", 4: "right, small flaws",
          5: "right and complete"}


class JudgeUnavailable(Unavailable):
    """No Ollama server answers, or it lacks the judge model."""


# ---------------------------------------------------------------------------------------------
# Ollama over plain HTTP (its REST API: /api/tags lists models, /api/chat answers)


def _request(url: str, payload: dict[str, Any] | None, timeout: float) -> dict[str, Any]:
    data = None if payload is None else json.dumps(payload).encode("utf-8")
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read().decode("utf-8"))


def judge_models(url: str = OLLAMA_URL, timeout: float = DETECT_TIMEOUT_S) -> list[str]:
    """The model names the Ollama server at `url` has; `JudgeUnavailable` within `timeout` when none answers."""
    base = url.rstrip("/")
    try:
        tags = _request(f"{base}/api/tags", None, timeout)
    except (OSError, ValueError) as err:  # refused, timed out, not HTTP, not JSON
        raise JudgeUnavailable(
            f"no Ollama server at {base} ({_reason(err)}). To use the book's judge, install Ollama "
            f"(ollama.com), run `ollama serve` and `ollama pull {DEFAULT_MODEL}`; or score the answers yourself below."
        ) from None
    models = tags.get("models") if isinstance(tags, dict) else None
    if not isinstance(models, list):
        raise JudgeUnavailable(f"the server at {base} answered /api/tags, but not like Ollama does")
    return [str(m.get("name", "")) for m in models if isinstance(m, dict)]


def _reason(err: Exception) -> str:
    if isinstance(err, urllib.error.URLError):
        return str(err.reason)
    return str(err) or type(err).__name__


def check_judge(model: str = DEFAULT_MODEL, url: str = OLLAMA_URL, timeout: float = DETECT_TIMEOUT_S) -> str:
    """The server's full name for `model` ("llama3" matches "llama3:latest"); `JudgeUnavailable` otherwise."""
    if not isinstance(model, str) or not model.strip():
        raise UserError("name the judge model, such as llama3")
    names = judge_models(url, timeout)
    model = model.strip()
    for name in names:
        if name == model or name.split(":")[0] == model:
            return name
    shown = ", ".join(names[:8]) or "none"
    raise JudgeUnavailable(f"the Ollama server at {url} has no model {model!r} (it has: {shown}); "
                           f"run `ollama pull {model}`")


def query_model(prompt: str, model: str = DEFAULT_MODEL, url: str = OLLAMA_URL,
                timeout: float = ANSWER_TIMEOUT_S) -> str:
    """The judge's reply to `prompt`, deterministic (seed 123, temperature 0) as in the book."""
    payload = {
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "options": {"seed": 123, "temperature": 0, "num_ctx": 2048},
        "stream": False,
    }
    try:
        reply = _request(f"{url.rstrip('/')}/api/chat", payload, timeout)
    except (OSError, ValueError) as err:
        raise JudgeUnavailable(f"the Ollama server at {url} did not answer ({_reason(err)})") from None
    content = reply.get("message", {}).get("content") if isinstance(reply, dict) else None
    if not isinstance(content, str):
        raise JudgeUnavailable(f"the Ollama server at {url} sent an answer without a message")
    return content


def judge_prompt(entry: dict[str, str], response: str) -> str:
    """The book's scoring prompt."""
    return (
        f"Given the input `{format_input(entry)}` "
        f"and correct output `{entry['output']}`, "
        f"score the model response `{response}`"
        f" on a scale from 0 to 100, where 100 is the best score. "
        f"Respond with the integer number only."
    )


_NUMBER = re.compile(r"(?<![\d.])(\d{1,3})(?:\.\d+)?(?!\d)")


def parse_score(reply: str) -> int | None:
    """The first whole number from 0 to 100 in the judge's reply ("Score: 85/100" gives 85), else None."""
    for match in _NUMBER.finditer(reply or ""):
        value = int(match.group(1))
        if 0 <= value <= 100:
            return value
    return None


@dataclass(frozen=True)
class JudgedResponse:
    index: int  # in the test set
    score: int | None  # None when the reply held no score
    reply: str


def judge_responses(records: Sequence[dict[str, str]], model: str = DEFAULT_MODEL, url: str = OLLAMA_URL,
                    key: str = "model_response") -> Iterator[JudgedResponse]:
    """Score each record's `key` against its `output`, one at a time (so a caller can show progress or stop)."""
    for index, entry in enumerate(records):
        reply = query_model(judge_prompt(entry, entry.get(key, "")), model, url)
        yield JudgedResponse(index, parse_score(reply), reply)


def mean_score(scores: Sequence[int | float | None]) -> float | None:
    """The mean of the scores given (None ones left out), or None when there are none."""
    given = [s for s in scores if s is not None]
    return sum(given) / len(given) if given else None


# ---------------------------------------------------------------------------------------------
# The rough automatic proxy


_WORD = re.compile(r"\w+", re.UNICODE)


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def overlap_score(response: str, reference: str) -> float:
    """ROUGE-L-like F1 (0-100) of the longest common subsequence of lower-cased words: a rough
    proxy for how much of the reference the response says, in order; not the book's metric."""
    a, b = _words(response), _words(reference)
    if not a or not b:
        return 0.0
    previous = [0] * (len(b) + 1)
    for word in a:
        row = [0]
        for j, other in enumerate(b):
            row.append(previous[j] + 1 if word == other else max(previous[j + 1], row[j]))
        previous = row
    common = previous[-1]
    if common == 0:
        return 0.0
    precision, recall = common / len(a), common / len(b)
    return 100 * 2 * precision * recall / (precision + recall)


# ---------------------------------------------------------------------------------------------
# Scores saved with a run


def to_percent(score: float, scale: str) -> float:
    """A score on `scale` as 0-100 (1-5 maps 1 to 0 and 5 to 100), to compare with the book's figure."""
    low, high = SCALES[scale]
    return 100 * (score - low) / (high - low)


def read_scores(run_dir: Path) -> dict[str, Any]:
    """What was saved: {"learner": {"scale", "scores": {index: score}}, "judge": {"model", "scores": [...]}}."""
    path = Path(run_dir) / SCORES_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UserError(f"{path} is damaged ({err}); delete it to score again") from None
    if not isinstance(data, dict):
        raise UserError(f"{path} is not a scores file; delete it to score again")
    return data


def save_learner_score(run_dir: Path, index: int, score: int, scale: str) -> dict[str, Any]:
    """Record the learner's score for test response `index` (changing scale starts a new sheet)."""
    if scale not in SCALES:
        raise UserError(f"scale must be one of {', '.join(SCALES)}, got {scale!r}")
    low, high = SCALES[scale]
    if isinstance(score, bool) or not isinstance(score, int) or not low <= score <= high:
        raise UserError(f"a score on the {scale} scale is a whole number from {low} to {high}, got {score!r}")
    data = read_scores(run_dir)
    sheet = data.get("learner") if isinstance(data.get("learner"), dict) else {}
    if sheet.get("scale") != scale:
        sheet = {"scale": scale, "scores": {}}
    sheet["scores"][str(index)] = score
    data["learner"] = sheet
    write_text(Path(run_dir) / SCORES_FILE, json.dumps(data, indent=1))
    return data


def save_judge_scores(run_dir: Path, model: str, judged: Sequence[JudgedResponse]) -> dict[str, Any]:
    data = read_scores(run_dir)
    data["judge"] = {"model": model, "scores": [j.score for j in judged], "mean": mean_score([j.score for j in judged])}
    write_text(Path(run_dir) / SCORES_FILE, json.dumps(data, indent=1))
    return data
