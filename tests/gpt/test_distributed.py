"""Multi-process data-parallel pretraining on CPUs (gloo), started the way a user would: torchrun."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.gpt.checkpoint import list_runs
from core.gpt.distributed import EpochSampler, Ranks
from core.gpt.events import EvalEvent, StepEvent, to_dict
from core.gpt.pretrain import make_loaders, pretrain_run
from core.paths import PROJECT_ROOT

WORKER = Path(__file__).with_name("ddp_worker.py")
TOLERANCE = 1e-4  # fp32 (bf16 off): two half-batches' averaged gradients differ from one batch only by rounding


def torchrun(tmp_path: Path, corpus: Path, mode: str, batch: int = 4) -> subprocess.CompletedProcess:
    out = tmp_path / mode
    out.mkdir()
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(WORKER),
               str(corpus), str(tmp_path / f"runs-{mode}"), str(out), str(batch), mode]
    return subprocess.run(command, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=240)


def rank_events(tmp_path: Path, mode: str, rank: int) -> list[dict]:
    return json.loads((tmp_path / mode / f"rank{rank}.json").read_text())


@pytest.fixture
def corpus(verdict_text, gpt2_encoding, tmp_path) -> Path:
    path = tmp_path / "corpus.txt"
    path.write_text(verdict_text[:6000], encoding="utf-8")
    return path


def test_one_process_gets_the_union_of_two_processes_shares_in_batch_order():
    ids = list(range(2000))
    single, _ = make_loaders(ids, 16, 8)
    halves = [make_loaders(ids, 16, 4, ranks=Ranks(rank, 2))[0] for rank in (0, 1)]
    for _ in range(2):  # two epochs: each reshuffles, the same way in both set-ups
        for whole, first, second in zip(single, *halves, strict=True):
            assert sorted(whole[0][:, 0].tolist()) == sorted(first[0][:, 0].tolist() + second[0][:, 0].tolist())


def test_the_sampler_reshuffles_every_epoch_and_covers_every_window():
    sampler = EpochSampler(range(40), Ranks(), seed=1)
    first, second = list(sampler), list(sampler)
    assert sorted(first) == sorted(second) == list(range(40)) and first != second
    assert list(EpochSampler(range(40), Ranks(), seed=1, epoch=1)) == second  # a resumed run continues the order


@pytest.mark.slow
def test_two_gloo_processes_match_one_process_with_twice_the_batch(corpus, tmp_path):
    result = torchrun(tmp_path, corpus, "train", batch=4)
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [rank_events(tmp_path, "train", r) for r in (0, 1)]
    from ddp_worker import CFG, SETTINGS

    single = [to_dict(e) for e in pretrain_run(corpus.read_text(encoding="utf-8"), CFG, SETTINGS, batch_size=8,
                                                runs_root=tmp_path / "single", sample_prompt=None)]
    steps = [[e["train_loss"] for e in events if e["type"] == StepEvent.kind] for events in (single, *ranks)]
    assert len(steps[0]) == len(steps[1]) == len(steps[2]) >= 4
    for whole, first, second in zip(*steps, strict=True):
        assert abs(whole - (first + second) / 2) < TOLERANCE
    vals = [[e["val_loss"] for e in events if e["type"] == EvalEvent.kind] for events in (single, ranks[0])]
    assert vals[0] == pytest.approx(vals[1], abs=TOLERANCE)
    assert len(list_runs(tmp_path / "runs-train")) == 1  # rank 0 alone saved


@pytest.mark.slow
def test_a_stop_in_one_process_stops_both_and_rank_0_saves(corpus, tmp_path):
    result = torchrun(tmp_path, corpus, "stop")
    assert result.returncode == 0, result.stderr[-3000:]
    for rank in (0, 1):
        assert rank_events(tmp_path, "stop", rank)[-1]["reason"] == "stopped"
    assert [(r.status, r.progress["step"]) for r in list_runs(tmp_path / "runs-stop")] == [("stopped", 2)]


@pytest.mark.slow
def test_a_killed_process_ends_the_run_without_a_hang_or_a_half_written_checkpoint(corpus, tmp_path):
    result = torchrun(tmp_path, corpus, "crash")  # a hang would exceed the subprocess timeout
    assert result.returncode != 0
    runs = tmp_path / "runs-crash"
    assert not runs.exists() or not any(runs.rglob("*"))
