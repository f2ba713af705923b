"""Data-parallel training over several processes (book appendix A.9), for the one training loop.

`torchrun --nproc_per_node=N -m core.gpt.pretrain ...` starts N copies of the command line with
RANK, WORLD_SIZE and LOCAL_RANK set; `init_from_env` joins them into a process group (gloo on
CPUs, nccl on GPUs). Each process then trains on its own share of every epoch's windows
(`EpochSampler`), `DistributedDataParallel` averages the gradients, and `SharedStop` makes one
process's stop end them all. The loop in `core.gpt.train` knows none of this: pretraining wraps
the loader, the loss and the stop flag, and only rank 0 samples and saves.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import Dataset, DistributedSampler

from core.errors import UserError
from core.gpt.device import resolve_device

# How long a process waits for the others at a collective: long enough for rank 0's sample and
# checkpoint, short enough that a killed process ends the run with an error instead of a hang.
TIMEOUT_S = 300.0


@dataclass(frozen=True)
class Ranks:
    """This process's place in the group (0 and 1 when not distributed)."""

    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def current_ranks() -> Ranks:
    """The process group's ranks when one is set up, else a single process."""
    if dist.is_available() and dist.is_initialized():
        return Ranks(dist.get_rank(), dist.get_world_size())
    return Ranks()


def _env_int(name: str) -> int:
    value = os.environ.get(name, "")
    if not value.isdigit():
        raise UserError(f"{name}={value!r} must be a whole number (torchrun sets it)")
    return int(value)


def init_from_env(device_choice: str = "auto", timeout_s: float = TIMEOUT_S) -> torch.device:
    """Join torchrun's process group when WORLD_SIZE > 1 and return this process's device."""
    device = resolve_device(device_choice)
    if int(os.environ.get("WORLD_SIZE", "1") or "1") <= 1:
        return device
    if device.type == "mps":
        raise UserError("multi-process training runs on CPUs (gloo) or CUDA GPUs (nccl), not on MPS")
    rank, world_size, local_rank = _env_int("RANK"), _env_int("WORLD_SIZE"), _env_int("LOCAL_RANK")
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend, rank=rank, world_size=world_size, timeout=timedelta(seconds=timeout_s))
    return device


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


class EpochSampler(DistributedSampler):
    """This process's share of a shuffled epoch, reshuffled (seed + epoch) on each pass, so the
    loop needs no `set_epoch` call. One process gets the whole epoch in the same order as rank 0
    and rank 1 together, which keeps one process with batch 2B equal to two with batch B."""

    def __init__(self, dataset: Dataset, ranks: Ranks, seed: int, epoch: int = 0) -> None:
        super().__init__(dataset, num_replicas=ranks.world_size, rank=ranks.rank, shuffle=True, seed=seed,
                         drop_last=True)
        self.set_epoch(epoch)

    def __iter__(self):  # type: ignore[override]
        indices = super().__iter__()
        self.epoch += 1
        return indices


class SharedStop:
    """A stop flag all processes agree on: `is_set` is true everywhere once any process's flag is."""

    def __init__(self, local: threading.Event | None, device: torch.device) -> None:
        self.local = local
        self.device = device

    def is_set(self) -> bool:
        flag = torch.tensor([int(self.local is not None and self.local.is_set())], device=self.device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item())


class BatchLoss(nn.Module):
    """`loss(inputs, targets, model)` as a module's forward pass, so DistributedDataParallel can
    wrap it: DDP averages gradients only for computations that go through its forward."""

    def __init__(self, model: nn.Module, loss) -> None:  # noqa: ANN001 (a Task's calc_loss_batch)
        super().__init__()
        self.model = model
        self.loss = loss

    def forward(self, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return self.loss(inputs, targets, self.model)
