"""Runtime switches that make training faster on a laptop CPU, each with a safe fallback.

- bf16 autocast: matrix products run in bfloat16 where the CPU has native bf16 instructions
  (AVX512-BF16 or AMX); weights, optimizer state and the loss stay float32. Elsewhere the
  context does nothing, because emulated bf16 is slower than float32.
- fused AdamW: one kernel updates each parameter, instead of a dozen full-size temporaries
  per parameter and step in the default implementation (the same update, to rounding).
- `head_cross_entropy`: the output head and the cross-entropy loss in one pass that never
  holds float32 scores for every token and all 50,257 vocabulary entries at once.
- `heap_for_large_tensors`: while training, glibc's malloc keeps big freed blocks for reuse
  instead of unmapping them, so a step does not fault in hundreds of MB of fresh pages. It is a
  process-wide setting, so the callers that own the process apply it around a run (the app's
  background job in `core.app.jobs`, the command line `python -m core.gpt.pretrain`), not the loop.

`benchmarks/train_throughput.py` measures what each one gives.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import platform
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import torch

from core.errors import UserError

BF16_ENV = "LLM_JOURNAL_BF16"  # set to 0 to keep every product in float32


def cpu_has_native_bf16() -> bool:
    """True when the CPU has AVX512-BF16 or AMX (torch's private probes: a torch without them says no)."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


@functools.cache
def bf16_supported() -> bool:
    """True when this CPU computes bf16 natively and autocast gives sane numbers on it."""
    if os.environ.get(BF16_ENV, "1").strip() == "0" or not cpu_has_native_bf16():
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


def autocast_context(enabled: bool = True) -> contextlib.AbstractContextManager[None]:
    """bf16 autocast for a forward pass and its loss where supported; otherwise a no-op."""
    if enabled and bf16_supported():
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@functools.cache
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


SCORE_BLOCK = 256  # tokens whose vocabulary scores one matrix product computes
# Tokens turned into probabilities per operation: few enough to stay in cache, enough that a busy
# machine's thread hand-offs (one per operation) do not dominate.
SCORE_ROWS = 64
TINY_PROBABILITY = 1e-30  # target probabilities below this are recomputed in float32 for the loss


def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    device = x.device.type
    return torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else x.dtype


def _loss_and_score_grads(
    hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, score_grads: torch.Tensor | None
) -> torch.Tensor:
    """Mean -log p(target) of `hidden @ weight.T`; fills `score_grads` with softmax(scores) - one_hot(target),
    the gradient of the summed cross-entropy with respect to the scores, when given."""
    n, vocab = hidden.shape[0], weight.shape[0]
    scratch = None if score_grads is not None else hidden.new_empty(min(n, SCORE_ROWS), vocab)
    target_probs = hidden.new_empty(n, 1)
    for block in range(0, n, SCORE_BLOCK):
        scores = hidden[block : block + SCORE_BLOCK] @ weight.T
        for row in range(0, scores.shape[0], SCORE_ROWS):
            group = scores[row : row + SCORE_ROWS]
            rows = slice(block + row, block + row + group.shape[0])
            probs = score_grads[rows] if scratch is None else scratch[: group.shape[0]]
            torch.softmax(group, dim=-1, out=probs)  # float32 inside, stored in the products' dtype
            torch.gather(probs, 1, targets[rows, None], out=target_probs[rows])
    log_probs = torch.log(target_probs.float())
    # Probabilities below this lose their precision (or vanish) in the stored dtype: redo those rows exactly.
    rare = (target_probs < TINY_PROBABILITY).nonzero()[:, 0]
    if rare.numel():
        exact = torch.log_softmax(hidden[rare] @ weight.T, dim=-1, dtype=torch.float32)
        log_probs[rare] = exact.gather(1, targets[rare, None])
    if score_grads is not None:
        score_grads[torch.arange(n, device=targets.device), targets] -= 1
    return -log_probs.mean()


class _HeadCrossEntropy(torch.autograd.Function):
    """Loss and gradients in the forward pass; the backward pass only has two products left."""

    @staticmethod
    def forward(ctx, hidden, weight, targets, dtype):  # type: ignore[override]
        h, w = hidden.to(dtype), weight.to(dtype)
        score_grads = torch.empty(h.shape[0], w.shape[0], dtype=dtype, device=h.device)
        loss = _loss_and_score_grads(h, w, targets, score_grads)
        ctx.save_for_backward(score_grads, h, w)
        ctx.dtypes = hidden.dtype, weight.dtype
        return loss

    @staticmethod
    def backward(ctx, grad_loss):  # type: ignore[override]
        score_grads, h, w = ctx.saved_tensors
        scale = grad_loss / h.shape[0]  # the loss is a mean; applied to the small (tokens, emb_dim) side
        grad_hidden = grad_weight = None
        if ctx.needs_input_grad[0]:
            grad_hidden = (score_grads @ w).to(ctx.dtypes[0]) * scale
        if ctx.needs_input_grad[1]:
            grad_weight = (score_grads.T @ (h * scale.to(h.dtype))).to(ctx.dtypes[1])
        return grad_hidden, grad_weight, None, None


def head_cross_entropy(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """`F.cross_entropy(hidden @ weight.T, targets)`, without keeping the scores (section 5.1.2).

    `hidden` is (tokens, emb_dim), `weight` the output head's (vocab_size, emb_dim), `targets`
    (tokens,) token IDs. Under autocast the products run in its dtype, as they would in
    `nn.Linear`; probabilities and the loss are float32 either way.
    """
    vocab = weight.shape[0]
    if targets.numel() == 0:
        raise UserError("no targets: the batch has no tokens")
    if int(targets.min()) < 0 or int(targets.max()) >= vocab:
        raise UserError(f"target token IDs must be in 0..{vocab - 1}")
    dtype = _compute_dtype(hidden)
    if torch.is_grad_enabled() and (hidden.requires_grad or weight.requires_grad):
        return _HeadCrossEntropy.apply(hidden, weight, targets, dtype)
    return _loss_and_score_grads(hidden.to(dtype), weight.to(dtype), targets, None)


# glibc's mallopt parameter and the largest threshold its dynamic default ever reaches (64-bit).
M_MMAP_THRESHOLD = -3
DEFAULT_MMAP_THRESHOLD_MAX = 32 * 1024 * 1024
LARGE_BLOCKS_ON_HEAP = 1 << 30
_heap_users = 0
_heap_lock = threading.Lock()


@functools.cache
def _glibc() -> Any | None:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


@contextlib.contextmanager
def heap_for_large_tensors() -> Iterator[None]:
    """Let glibc serve blocks up to 1 GiB from its reusable heap while the block runs.

    By default a block over 32 MB (a batch's vocabulary scores, an output-head gradient) is a
    fresh memory map, unmapped again when freed, so every training step page-faults its way
    through a few hundred MB: 10-15 % of a step here. Afterwards the threshold returns to the
    dynamic default's ceiling and the freed memory goes back to the system. No-op off glibc.
    """
    global _heap_users
    libc = _glibc()
    if libc is None:
        yield
        return
    with _heap_lock:
        _heap_users += 1
        if _heap_users == 1:
            libc.mallopt(M_MMAP_THRESHOLD, LARGE_BLOCKS_ON_HEAP)
    try:
        yield
    finally:
        with _heap_lock:
            _heap_users -= 1
            if _heap_users == 0:
                libc.mallopt(M_MMAP_THRESHOLD, DEFAULT_MMAP_THRESHOLD_MAX)
                libc.malloc_trim(0)

