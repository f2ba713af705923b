"""Where a model trains: a CUDA GPU, Apple's MPS or the CPU, and the autocast each one gets.

"auto" takes the first present of CUDA, MPS and the CPU. Nothing needs a GPU: on a machine
without one every choice but "cpu" and "auto" is a clear error, never a hang.
"""

from __future__ import annotations

import contextlib

import torch

from core.errors import UserError
from core.gpt.fastpath import autocast_context

DEVICES = ("auto", "cpu", "cuda", "mps")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return mps is not None and mps.is_available()


def resolve_device(choice: str = "auto") -> torch.device:
    """The torch device for `choice` (one of `DEVICES`); a `UserError` when it is not on this machine."""
    if choice not in DEVICES:
        raise UserError(f"unknown device {choice!r}; choose one of {', '.join(DEVICES)}")
    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "mps" if _mps_available() else "cpu"
    elif choice == "cuda" and not torch.cuda.is_available():
        raise UserError("device 'cuda' was chosen but this machine has no usable CUDA GPU: use 'auto' or 'cpu'")
    elif choice == "mps" and not _mps_available():
        raise UserError("device 'mps' was chosen but Apple's MPS is not available here: use 'auto' or 'cpu'")
    return torch.device(choice)


def device_autocast(device: torch.device | str, enabled: bool = True) -> contextlib.AbstractContextManager[None]:
    """bf16 autocast for `device`: on CUDA where the GPU has bf16, on the CPU where the fast path
    finds it native (`core.gpt.fastpath`); on MPS everything stays float32."""
    kind = torch.device(device).type
    if kind == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16, enabled=enabled and torch.cuda.is_bf16_supported())
    if kind == "cpu":
        return autocast_context(enabled)
    return contextlib.nullcontext()
