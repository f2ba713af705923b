"""Runtime switches that make training faster on a laptop CPU, each with a safe fallback.

- bf16 autocast: matrix products run in bfloat16 where the CPU has native bf16 instructions
  (AVX512-BF16 or AMX); weights, optimizer state and the loss stay float32. Elsewhere the
  context does nothing, because emulated bf16 is slower than float32.
- fused AdamW: one kernel updates each parameter, instead of a dozen full-size temporaries
  per parameter and step in the default implementation (the same update, to rounding).

`benchmarks/train_throughput.py` measures what each one gives.
"""

from __future__ import annotations

import contextlib
import functools
import os
from typing import ContextManager, Iterable

import torch

BF16_ENV = "LLM_JOURNAL_BF16"  # set to 0 to keep every product in float32


def _cpu_has_native_bf16() -> bool:
    # Private helpers, so a torch without them counts as "no".
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


@functools.lru_cache(maxsize=None)
def bf16_supported() -> bool:
    """True when this CPU computes bf16 natively and autocast gives sane numbers on it."""
    if os.environ.get(BF16_ENV, "1").strip() == "0" or not _cpu_has_native_bf16():
        return False
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(64, 256, generator=generator)
    w = torch.randn(128, 256, generator=generator) / 16
    exact = x @ w.T
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            approx = torch.nn.functional.linear(x, w)
    except RuntimeError:
        return False
    # bf16 keeps 8 bits of mantissa: a 256-term dot product lands within a few percent.
    error = (approx.float() - exact).abs().max() / exact.abs().max()
    return approx.dtype == torch.bfloat16 and bool(torch.isfinite(approx).all()) and float(error) < 0.03


def autocast_context(enabled: bool = True) -> ContextManager[None]:
    """bf16 autocast for a forward pass and its loss where supported; otherwise a no-op."""
    if enabled and bf16_supported():
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@functools.lru_cache(maxsize=None)
def fused_adamw_supported() -> bool:
    """True when this torch has the fused AdamW kernel for CPU tensors (torch >= 2.4)."""
    param = torch.zeros(2, requires_grad=True)
    param.grad = torch.ones(2)
    try:
        torch.optim.AdamW([param], fused=True).step()
    except (RuntimeError, TypeError):
        return False
    return True


def make_adamw(
    params: Iterable[torch.nn.Parameter], lr: float, weight_decay: float, fused: bool = True
) -> torch.optim.AdamW:
    """AdamW (section 5.2) using the fused kernel where the parameters' device has one."""
    params = list(params)
    on_cpu = all(p.device.type == "cpu" for p in params)
    use_fused = fused and on_cpu and fused_adamw_supported()
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=True if use_fused else None)
