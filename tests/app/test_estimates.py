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
    speed_for,
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
    # four times the steps, not four times the evaluations (step 0 and the last come once a run)
    assert 3 * base.seconds < estimate_training(TINY, 10, 4, 2, 5, 5).seconds < 4 * base.seconds
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


MEMINFO = "MemTotal:       16000000 kB\nMemAvailable:    2000000 kB\n"  # 2,048,000,000 bytes free


def _write(root, files):
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    return root


def _memory(tmp_path, proc_cgroup, files):
    _write(tmp_path, {"meminfo": MEMINFO, "self-cgroup": proc_cgroup})
    root = _write(tmp_path / "cgroup", files)
    return available_memory(tmp_path / "meminfo", tmp_path / "self-cgroup", root)


def test_available_memory_reads_meminfo_without_a_cgroup(tmp_path):
    _write(tmp_path, {"meminfo": MEMINFO})
    assert available_memory(tmp_path / "meminfo", tmp_path / "none", tmp_path / "none") == 2_000_000 * 1024
    assert available_memory(tmp_path / "missing", tmp_path / "none", tmp_path / "none") is None


def test_a_cgroup_v2_limit_below_meminfo_wins(tmp_path):
    files = {"app/memory.max": str(1024 * 2**20), "app/memory.current": str(300 * 2**20)}
    assert _memory(tmp_path, "0::/app\n", files) == 724 * 2**20


def test_a_cgroup_v2_parent_limit_counts_and_max_means_none(tmp_path):
    files = {"memory.max": str(2**30), "memory.current": str(2**29),  # the container: 512 MiB left
             "app/memory.max": "max", "app/memory.current": str(2**28)}
    assert _memory(tmp_path, "0::/app\n", files) == 2**29
    unlimited = {"app/memory.max": "max\n", "app/memory.current": "100\n"}
    assert _memory(tmp_path / "u", "0::/app\n", unlimited) == 2_000_000 * 1024


def test_a_cgroup_v1_limit_is_read_from_the_memory_controller(tmp_path):
    files = {"memory/docker/abc/memory.limit_in_bytes": str(2_500 * 2**20),
             "memory/docker/abc/memory.usage_in_bytes": str(700 * 2**20),
             "memory/memory.limit_in_bytes": "9223372036854771712",  # v1's "no limit"
             "memory/memory.usage_in_bytes": str(50 * 2**30)}
    assert _memory(tmp_path, "4:memory:/docker/abc\n3:cpuset:/\n", files) == 1_800 * 2**20


def test_a_roomy_cgroup_leaves_meminfo_in_charge(tmp_path):
    files = {"memory.max": str(64 * 2**30), "memory.current": str(2**30)}
    assert _memory(tmp_path, "0::/\n", files) == 2_000_000 * 1024


def test_a_full_cgroup_leaves_no_room_and_broken_files_are_ignored(tmp_path):
    full = {"memory.max": "100", "memory.current": "150"}
    assert _memory(tmp_path / "a", "0::/\n", full) == 0
    broken = {"memory.max": "lots", "memory.current": "1"}
    assert _memory(tmp_path / "b", "garbage\n0::/\n", broken) == 2_000_000 * 1024


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.2, "1 s"), (45, "45 s"), (200, "3 min 20 s"), (7500, "2 h 05 min"), (3 * 86400, "3.0 days")],
)
def test_durations_read_naturally(seconds, text):
    assert format_duration(seconds) == text


def _run(folder, cfg, tokens_per_s, steps=12):
    history = [{"type": "step", "step": i, "tokens_per_s": tokens_per_s} for i in range(1, steps + 1)]
    return Checkpoint(folder, {"config": cfg, "history": history})


def test_the_speed_comes_from_the_newest_run_of_the_same_model_size(tmp_path):
    other_size = {**TINY, "n_layers": TINY["n_layers"] + 2}
    newest_other, same, older_same = (_run(tmp_path / "c", other_size, 900.0), _run(tmp_path / "b", TINY, 300.0),
                                      _run(tmp_path / "a", TINY, 100.0))
    assert speed_for(TINY, [newest_other, same, older_same]) == measured_flops(same)
    assert speed_for(TINY, [_run(tmp_path / "d", TINY, 300.0, steps=3), older_same]) == measured_flops(older_same)
    assert speed_for(TINY, [newest_other], fallback=same) == measured_flops(same)  # none of this size
    assert speed_for(TINY, []) is None


def test_a_classifier_speed_counts_its_small_head(tmp_path):
    """A classifier's saved config has the GPT-2 vocabulary; its head has one output per class."""
    classifier = _run(tmp_path, TINY, 500.0)
    two_classes = {**TINY, "vocab_size": 2}
    assert speed_for(two_classes, [classifier]) < measured_flops(classifier)
    assert speed_for(two_classes, [classifier]) == measured_flops(classifier, vocab_size=2)
