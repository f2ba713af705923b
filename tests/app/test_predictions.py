"""Predict, then run: guesses kept beside a run, compared with its result, and how far off they were."""

from __future__ import annotations

import pytest

from core.app import experiment_records as xv
from core.app import predictions as pr
from core.errors import UserError
from core.gpt.checkpoint import new_run_id, read_checkpoint, save_checkpoint
from core.gpt.config import get_preset
from core.gpt.model import GPTModel

HISTORY = [{"type": "eval", "step": 1, "epoch": 1, "tokens_seen": 64, "train_loss": 9.0, "val_loss": 9.5},
           {"type": "eval", "step": 4, "epoch": 1, "tokens_seen": 256, "train_loss": 7.0, "val_loss": 7.25}]


@pytest.fixture
def run(tmp_path):
    model = GPTModel({**get_preset("tiny"), "emb_dim": 32, "n_heads": 2, "n_layers": 2, "context_length": 32,
                      "vocab_size": 64})
    folder = tmp_path / new_run_id()
    save_checkpoint(folder, model, status="finished", history=HISTORY, settings={"preset": "tiny"},
                    progress={"step": 4, "tokens_seen": 256})
    return folder


@pytest.mark.parametrize(("metric", "value", "sentence", "message"), [
    ("perplexity", 3.0, "", "one of"), ("val_loss", -1.0, "", "0 or more"), ("val_loss", float("nan"), "", "number"),
    ("test_accuracy", 95.0, "", "between 0 and 1"), ("val_loss", None, "   ", "number or a sentence"),
    ("val_loss", None, "x" * 400, "at most"),
])
def test_impossible_predictions_are_refused(metric, value, sentence, message):
    with pytest.raises(UserError, match=message):
        pr.make_prediction(metric, value, sentence)


def test_a_prediction_is_kept_beside_the_run_and_compared_with_its_result(run):
    guess = pr.make_prediction("val_loss", 6.0, "it will  plateau")
    pr.save_prediction(run, guess)
    assert pr.read_prediction(run) == guess and guess.sentence == "it will plateau"
    assert (run / "checkpoint.json").is_file()  # the checkpoint itself is untouched and still reads
    [off] = pr.calibration([read_checkpoint(run)])
    assert off.predicted == 6.0 and off.actual == 7.25 and off.error == pytest.approx(1.25)
    record = xv.with_prediction(xv.checkpoint_record("pretraining", run), guess)
    assert "reached 7.25 (off by 1.25)" in xv.prediction_against_result(record)
    assert "plateau" in xv.prediction_against_result(record)


@pytest.mark.parametrize("damage", ["{", "[]", '{"metric": "val_loss", "value": "six"}', "\x00" * 20_000])
def test_a_damaged_prediction_is_no_prediction(run, damage):
    (run / pr.PREDICTION_FILE).write_text(damage)
    assert pr.read_prediction(run) is None
    assert pr.calibration([read_checkpoint(run)]) == []
