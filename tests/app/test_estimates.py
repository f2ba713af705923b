"""Honest estimates of a pretraining run's time and memory."""

from __future__ import annotations

import pytest

from core.app.estimates import (
    REFERENCE_FLOPS,
    STEP_OVERHEAD_S,
    available_memory,
    estimate_training,
    format_duration,
    measured_flops,
    training_memory,
)
from core.gpt.checkpoint import Checkpoint
from core.gpt.config import get_preset
from core.gpt.params import flops_per_token
from core.gpt.train import evaluation_steps

TINY = get_preset("tiny")


def test_bigger_models_take_longer_and_need_more_memory():
    small = estimate_training(TINY, 100, 1, 2, 5, 5)
    big = estimate_training(get_preset("gpt2-small", context_length=128), 100, 1, 2, 5, 5)
    assert big.seconds > 5 * small.seconds
    assert big.memory_bytes > 4 * small.memory_bytes
    assert small.total_steps == 100 and small.train_tokens == 100 * 2 * 128


def test_time_grows_with_epochs_and_evaluations():
    base = estimate_training(TINY, 10, 1, 2, 5, 5)
    assert 3.5 * base.seconds < estimate_training(TINY, 10, 4, 2, 5, 5).seconds < 4 * base.seconds
    assert estimate_training(TINY, 10, 1, 2, 1, 5).seconds > base.seconds


@pytest.mark.parametrize("steps_per_epoch, epochs, eval_freq", [(12, 1, 3), (10, 1, 3), (7, 2, 50), (5, 1, 1)])
def test_the_estimate_counts_the_evaluations_the_loop_makes(steps_per_epoch, epochs, eval_freq):
    """One more batch per evaluation costs one more forward pass per split and evaluation the loop runs."""
    def seconds(eval_iter):
        return estimate_training(TINY, steps_per_epoch, epochs, 2, eval_freq, eval_iter, flops_per_s=1e9).seconds

    ctx = TINY["context_length"]
    per_batch = 2 * 2 * ctx * flops_per_token(TINY, ctx // 2)["total"] / 1e9  # both splits, batch 2
    evaluations = len(evaluation_steps(steps_per_epoch * epochs, eval_freq))
    assert seconds(2) - seconds(1) == pytest.approx(evaluations * per_batch)


def test_a_measured_speed_wins_over_the_reference():
    assert not estimate_training(TINY, 10, 1, 2, 5, 5).measured
    slow = estimate_training(TINY, 10, 1, 2, 5, 5, flops_per_s=REFERENCE_FLOPS / 2)
    slower = estimate_training(TINY, 10, 1, 2, 5, 5, flops_per_s=REFERENCE_FLOPS / 4)
    assert slow.measured and slower.seconds == pytest.approx(2 * slow.seconds)


def test_each_step_costs_more_than_its_flops_in_proportion_to_the_model_up_to_the_tiny_preset():
    tiny_flops_only = estimate_training(TINY, 100, 1, 1, 100, 1, flops_per_s=REFERENCE_FLOPS).seconds
    assert estimate_training(TINY, 100, 1, 1, 100, 1).seconds == pytest.approx(
        tiny_flops_only + 100 * STEP_OVERHEAD_S, rel=0.01)
    # The spam page's model from scratch (0.4 M parameters): its overhead is a small fraction.
    classifier = {"vocab_size": 2, "context_length": 120, "emb_dim": 128, "n_heads": 4, "n_layers": 2}
    flops_only = estimate_training(classifier, 100, 1, 16, 100, 1, flops_per_s=REFERENCE_FLOPS).seconds
    with_overhead = estimate_training(classifier, 100, 1, 16, 100, 1).seconds
    assert flops_only < with_overhead < flops_only + 100 * STEP_OVERHEAD_S * 0.05


def test_a_saved_run_gives_its_measured_speed(tmp_path):
    steps = [{"type": "step", "tokens_per_s": 100.0 * n} for n in range(1, 13)]
    run = Checkpoint(tmp_path, {"config": TINY, "history": steps})
    assert measured_flops(run) > 0
    faster = Checkpoint(tmp_path, {"config": TINY, "history": steps[:-1] + [{"type": "step", "tokens_per_s": 2400.0}]})
    assert measured_flops(faster) == pytest.approx(2 * measured_flops(run))  # the whole run's final average
    assert measured_flops(Checkpoint(tmp_path, {"config": TINY, "history": steps[:5]})) is None  # warm-up only
    assert measured_flops(None) is None


def test_gpt2_xl_does_not_fit_a_hosted_demo():
    xl = estimate_training(get_preset("gpt2-xl"), 10, 1, 1, 5, 5, available_bytes=int(2.7 * 2**30))
    assert not xl.fits
    assert training_memory(get_preset("gpt2-xl"), 1) > 16 * 1_500_000_000
    assert estimate_training(TINY, 10, 1, 2, 5, 5, available_bytes=8 * 2**30).fits
    assert estimate_training(TINY, 10, 1, 2, 5, 5).fits  # unknown memory: not blocked


def test_available_memory_reads_meminfo(tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       16000000 kB\nMemAvailable:    2000000 kB\n")
    assert available_memory(meminfo) == 2_000_000 * 1024
    assert available_memory(tmp_path / "missing") is None


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.2, "1 s"), (45, "45 s"), (200, "3 min 20 s"), (7500, "2 h 05 min"), (3 * 86400, "3.0 days")],
)
def test_durations_read_naturally(seconds, text):
    assert format_duration(seconds) == text
