"""Predict, then run: the learner's guess of a run's result, kept as `prediction.json` in the run folder.

The guess is a number for a metric (the final validation loss of a pretraining run, the test accuracy of a
spam classifier) and/or a sentence. It is written atomically beside the checkpoint, never inside it.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

from core.atomic import write_text
from core.errors import UserError
from core.gpt.checkpoint import Checkpoint
from core.gpt.events import eval_kinds

PREDICTION_FILE = "prediction.json"
METRICS = {"val_loss": "final validation loss", "test_accuracy": "test accuracy"}
MAX_SENTENCE_CHARS = 300


@dataclass(frozen=True)
class Prediction:
    metric: str  # a key of METRICS
    value: float | None = None
    sentence: str = ""
    made_at: str = ""  # UTC, ISO 8601


def make_prediction(metric: str, value: float | None, sentence: str = "") -> Prediction:
    """A checked prediction; `UserError` for an unknown metric, an impossible value or an empty guess."""
    sentence = " ".join(sentence.split())
    if metric not in METRICS:
        raise UserError(f"a prediction is about one of {', '.join(METRICS)}, not {metric!r}")
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                              or not math.isfinite(value) or value < 0):
        raise UserError(f"the predicted {METRICS[metric]} must be a number of 0 or more")
    if metric == "test_accuracy" and value is not None and value > 1:
        raise UserError("an accuracy is between 0 and 1 (0.95 for 95 %)")
    if len(sentence) > MAX_SENTENCE_CHARS:
        raise UserError(f"the prediction's sentence is at most {MAX_SENTENCE_CHARS} characters")
    if value is None and not sentence:
        raise UserError("write a number or a sentence to predict")
    return Prediction(metric, None if value is None else float(value), sentence,
                      dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))


def save_prediction(run_dir: Path, prediction: Prediction) -> Path:
    return write_text(Path(run_dir) / PREDICTION_FILE, json.dumps(asdict(prediction), indent=1))


def read_prediction(run_dir: Path) -> Prediction | None:
    """The run's prediction; None when there is none or the file is damaged (a run never depends on it)."""
    path = Path(run_dir) / PREDICTION_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path.stat().st_size < 10_000 else None
        return make_prediction(data["metric"], data.get("value"), data.get("sentence", "")) if data else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def actual(checkpoint: Checkpoint, metric: str) -> float | None:
    """What the run reached: its last validation loss, or the classifier's test accuracy."""
    if metric == "val_loss":
        evals = [e for e in checkpoint.history if isinstance(e, dict) and e.get("type") in eval_kinds()]
        return float(evals[-1]["val_loss"]) if evals else None
    accuracy = checkpoint.settings.get("accuracy")
    value = accuracy.get("test") if isinstance(accuracy, dict) else None
    return float(value) if isinstance(value, (int, float)) else None


@dataclass(frozen=True)
class Guess:
    run_id: str
    created: str
    metric: str
    predicted: float
    actual: float

    @property
    def error(self) -> float:
        return abs(self.predicted - self.actual)


def calibration(runs: list[Checkpoint]) -> list[Guess]:
    """Each run with a numeric prediction and a result, oldest first: how far off each guess was."""
    guesses = []
    for run in runs:
        prediction = read_prediction(run.path)
        if prediction is None or prediction.value is None:
            continue
        reached = actual(run, prediction.metric)
        if reached is not None:
            guesses.append(Guess(run.run_id, run.created, prediction.metric, prediction.value, reached))
    return sorted(guesses, key=lambda g: g.created)
