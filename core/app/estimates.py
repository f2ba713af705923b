"""How long a pretraining run will take on this machine, and whether it fits in memory.

Time: training costs about 3 forward passes per token (forward + backward), and a CPU delivers
a fairly steady number of FLOP/s across model sizes (about 110 GFLOP/s on a 2-core laptop CPU,
`../shared/perf-notes.md`), plus a cost per step beyond the FLOPs that dominates for small models. When an
earlier run measured its own speed here, that figure wins.
Memory: weights, gradients and AdamW's two moments (16 bytes per parameter) plus activations
(Korthikanti et al., 2022, in fp32) and the logits over the 50,257-token vocabulary.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.gpt.checkpoint import Checkpoint
from core.gpt.config import validate_config
from core.gpt.params import count_parameters, flops_per_token
from core.gpt.train import evaluation_steps

REFERENCE_FLOPS = 110e9  # effective training FLOP/s measured on the 2-core development CPUs
# What a step costs beyond its FLOPs (Python, autograd, optimizer, the embedding's gradient): a
# 7-GFLOP step of the tiny preset (16 M parameters) took about 0.35 s on the development CPUs, where
# 110 GFLOP/s alone predicts 0.06 s. Smaller models pay less, in proportion to their parameters:
# a 0.4 M-parameter spam classifier's step costs little more than its FLOPs.
STEP_OVERHEAD_S = 0.15
OVERHEAD_PARAMS = 16e6
TRAIN_PASSES = 3  # backward costs about twice the forward pass


@dataclass(frozen=True)
class TrainingEstimate:
    """Expected cost of a run: steps, seconds and bytes; `available_bytes` is None when unknown."""

    steps_per_epoch: int
    total_steps: int
    train_tokens: int
    seconds: float
    flops_per_s: float
    measured: bool  # flops_per_s comes from a run on this machine, not the reference figure
    memory_bytes: int
    available_bytes: int | None

    @property
    def fits(self) -> bool:
        return self.available_bytes is None or self.memory_bytes < 0.9 * self.available_bytes


def measured_flops(checkpoint: Checkpoint | None, min_steps: int = 10, vocab_size: int | None = None) -> float | None:
    """Effective training FLOP/s of a saved run: its final tokens/s (an average over the whole run,
    evaluations aside) times the work per token; None for runs too short to trust. `vocab_size`
    counts the output head's work for a classifier (its head has one output per class)."""
    if checkpoint is None:
        return None
    steps = [e for e in checkpoint.history if e.get("type") == "step" and e.get("tokens_per_s")]
    if len(steps) < min_steps:  # the first steps include warm-up
        return None
    cfg = checkpoint.config if vocab_size is None else {**checkpoint.config, "vocab_size": vocab_size}
    return steps[-1]["tokens_per_s"] * TRAIN_PASSES * flops_per_token(cfg, cfg["context_length"] // 2)["total"]


def _size(cfg: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(cfg.get(k) for k in ("emb_dim", "n_heads", "n_layers"))


def speed_for(cfg: dict[str, Any], runs: Iterable[Checkpoint], fallback: Checkpoint | None = None) -> float | None:
    """The training FLOP/s last measured here for a model of `cfg`'s size (width, heads, layers):
    the newest of `runs` (newest first) of that size that ran long enough to tell, else `fallback`'s.
    Small models reach fewer FLOP/s than large ones, so a figure measured on another size misleads."""
    for run in runs:
        if _size(run.config) == _size(cfg):
            speed = measured_flops(run, vocab_size=cfg["vocab_size"])
            if speed is not None:
                return speed
    return measured_flops(fallback)


UNLIMITED = 2**60  # cgroup v1 writes "no limit" as a huge number (9223372036854771712)


def available_memory(
    meminfo: Path = Path("/proc/meminfo"),
    proc_cgroup: Path = Path("/proc/self/cgroup"),
    cgroup_root: Path = Path("/sys/fs/cgroup"),
) -> int | None:
    """Bytes this process could still get, or None where nothing says.

    The smaller of Linux's MemAvailable and what the memory limits of the process's cgroup and of
    its ancestors leave: a container (a hosted demo has about 2.7 GB) sees the host's memory in
    /proc/meminfo, but is killed at its own limit.
    """
    known = [b for b in (_meminfo_available(meminfo), _cgroup_available(proc_cgroup, cgroup_root)) if b is not None]
    return min(known) if known else None


def _meminfo_available(meminfo: Path) -> int | None:
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_available(proc_cgroup: Path, cgroup_root: Path) -> int | None:
    """Limit minus usage of the tightest memory cgroup the process is in (v2 or v1), None when unlimited."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    folders = []
    for line in lines:
        fields = line.split(":", 2)
        if len(fields) != 3:
            continue
        _, controllers, path = fields
        relative = path.strip("/")
        if controllers == "":  # cgroup v2: one unified hierarchy
            folders += _with_ancestors(cgroup_root, relative, "memory.max", "memory.current")
        elif "memory" in controllers.split(","):  # cgroup v1: the memory controller's own hierarchy
            folders += _with_ancestors(cgroup_root / "memory", relative, "memory.limit_in_bytes",
                                       "memory.usage_in_bytes")
    room = [r for r in (_room(*folder) for folder in folders) if r is not None]
    return min(room) if room else None


def _with_ancestors(base: Path, relative: str, limit: str, usage: str) -> list[tuple[Path, Path]]:
    parts = [p for p in relative.split("/") if p]
    folders = [base.joinpath(*parts[:n]) for n in range(len(parts), -1, -1)]
    return [(folder / limit, folder / usage) for folder in folders]


def _room(limit_file: Path, usage_file: Path) -> int | None:
    try:
        limit = limit_file.read_text().strip()
        usage = int(usage_file.read_text().strip())
        if limit == "max" or int(limit) >= UNLIMITED:
            return None
        return max(int(limit) - usage, 0)
    except (OSError, ValueError):
        return None


def training_memory(cfg: dict[str, Any], batch_size: int) -> int:
    """Peak bytes for training `cfg` with AdamW on `batch_size` windows of the full context."""
    params = count_parameters(cfg).total_tied if cfg["tie_weights"] else count_parameters(cfg).total
    s, b, h, a = cfg["context_length"], batch_size, cfg["emb_dim"], cfg["n_heads"]
    activations = 2 * cfg["n_layers"] * s * b * h * (34 + 5 * a * s / h)  # fp32: twice the fp16 figure
    logits = 3 * 4 * b * s * cfg["vocab_size"]  # logits, their softmax and its gradient
    return int(16 * params + activations + logits)


def estimate_training(
    cfg: dict[str, Any],
    steps_per_epoch: int,
    epochs: int,
    batch_size: int,
    eval_freq: int,
    eval_iter: int,
    sample_tokens: int = 30,
    flops_per_s: float | None = None,
    available_bytes: int | None = None,
) -> TrainingEstimate:
    """Time and memory for `epochs` of `steps_per_epoch` steps, evaluations and samples included."""
    cfg = validate_config(cfg)
    measured = flops_per_s is not None
    speed = flops_per_s if measured else REFERENCE_FLOPS
    ctx = cfg["context_length"]
    forward = flops_per_token(cfg, ctx // 2)["total"]  # on average a token attends to half the window
    total_steps = steps_per_epoch * epochs
    train_tokens = total_steps * batch_size * ctx
    evaluations = len(evaluation_steps(total_steps, eval_freq))
    eval_tokens = evaluations * 2 * eval_iter * batch_size * ctx  # training and validation batches
    sample_flops = epochs * sample_tokens * flops_per_token(cfg, ctx)["total"]
    work = TRAIN_PASSES * forward * train_tokens + forward * eval_tokens + sample_flops
    overhead = STEP_OVERHEAD_S * min(1.0, count_parameters(cfg).total_tied / OVERHEAD_PARAMS)
    seconds = work / speed if measured else work / speed + total_steps * overhead  # a measured speed includes it
    return TrainingEstimate(
        steps_per_epoch, total_steps, train_tokens, seconds, speed, measured,
        training_memory(cfg, batch_size), available_bytes,
    )


def format_duration(seconds: float) -> str:
    """Seconds as a short human duration: 45 s, 3 min 20 s, 2 h 05 min, 3.5 days."""
    if seconds < 60:
        return f"{max(seconds, 1):.0f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    if seconds < 48 * 3600:
        return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"
    return f"{seconds / 86400:.1f} days"
