"""Low-rank adaptation, LoRA (book appendix E): fine-tune a few small matrices beside frozen weights.

A `LoRALayer` learns `alpha * (x @ A @ B)` with A (in_dim, rank) and B (rank, out_dim); the book
scales by `alpha` alone (not `alpha / rank`), and so do we. `LinearWithLoRA` adds it to a frozen
`nn.Linear`; B starts at zero, so a fresh adapter leaves the model's output unchanged.
`replace_linear_with_lora` freezes a model and wraps its linear layers (all of them by default,
as the book does); `merge_lora` folds the adapters back into plain layers for inference.

An adapter checkpoint holds only what LoRA trains (A and B, plus any new layers such as a
classifier's head, named by the caller) in `lora.safetensors`, and in `lora.json` its rank, alpha,
targets and a fingerprint of the base model it was trained on: loading onto another base is refused.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from core.atomic import atomic_write, write_text
from core.errors import UserError
from core.gpt.checkpoint import RUN_ID

# Which linear layers of a GPTModel get an adapter, by the last part of their module name.
TARGETS = ("query", "key", "value", "attention_output", "feed_forward", "output_head")
_TARGET_OF_NAME = {"W_query": "query", "W_key": "key", "W_value": "value", "out_proj": "attention_output",
                   "out_head": "output_head"}
ATTENTION_TARGETS = ("query", "key", "value", "attention_output")

FORMAT = "llm-journal-lora"
VERSION = 1
META_FILE = "lora.json"
TENSORS_FILE = "lora.safetensors"
MAX_META_BYTES = 16 * 1024 * 1024
FINGERPRINT_SAMPLE = 256  # values hashed from each end of every base tensor


class LoRAError(UserError):
    """LoRA settings that make no adapter, or an adapter checkpoint that does not fit."""


def check_rank_alpha(rank: Any, alpha: Any) -> None:
    """`LoRAError` unless rank is a whole number >= 1 and alpha a finite number > 0."""
    if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
        raise LoRAError(f"rank must be a whole number of at least 1, got {rank!r}")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not math.isfinite(alpha) or alpha <= 0:
        raise LoRAError(f"alpha must be a number above 0 (the book uses 8 or 16), got {alpha!r}")


def max_rank(in_dim: int, out_dim: int) -> int:
    """The largest rank allowed for an in_dim x out_dim layer.

    A @ B never has a rank above min(in_dim, out_dim); the book still gives its 768 x 2 classifier
    head rank 16, so only a rank beyond the layer's larger side is refused."""
    return max(in_dim, out_dim)


class LoRALayer(nn.Module):
    """`alpha * (x @ A @ B)`: A (in_dim, rank) Kaiming-uniform as in the book, B (rank, out_dim) zeros."""

    def __init__(self, in_dim: int, out_dim: int, rank: int, alpha: float,
                 *, device: torch.device | str | None = None, dtype: torch.dtype | None = None):
        super().__init__()
        check_rank_alpha(rank, alpha)
        if rank > max_rank(in_dim, out_dim):
            raise LoRAError(
                f"rank {rank} is larger than the {in_dim} x {out_dim} layer it adapts: choose at most "
                f"{max_rank(in_dim, out_dim)} (A @ B can reach rank {min(in_dim, out_dim)} at most)"
            )
        self.rank = rank
        self.alpha = alpha
        self.A = nn.Parameter(torch.empty(in_dim, rank, device=device, dtype=dtype))
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))
        self.B = nn.Parameter(torch.zeros(rank, out_dim, device=device, dtype=dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.alpha * (x @ self.A @ self.B)

    def delta_weight(self) -> torch.Tensor:
        """The change to the wrapped layer's weight (out_dim, in_dim): `alpha * (A @ B).T`."""
        return self.alpha * (self.A @ self.B).T


class LinearWithLoRA(nn.Module):
    """A frozen `nn.Linear` plus a `LoRALayer`: `linear(x) + lora(x)`."""

    def __init__(self, linear: nn.Linear, rank: int, alpha: float):
        super().__init__()
        self.linear = linear
        self.lora = LoRALayer(linear.in_features, linear.out_features, rank, alpha,
                              device=linear.weight.device, dtype=linear.weight.dtype)

    @property
    def in_features(self) -> int:
        return self.linear.in_features

    @property
    def out_features(self) -> int:
        return self.linear.out_features

    @property
    def weight(self) -> torch.Tensor:
        """The effective weight W + alpha (A @ B).T, differentiable in A and B: code that reads a
        head's weight directly (pretraining's fused head loss, `core.gpt.pretrain.calc_loss_batch`) trains
        the adapter too."""
        return self.linear.weight + self.lora.delta_weight()

    @property
    def bias(self) -> torch.Tensor | None:
        return self.linear.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x) + self.lora(x)


@dataclass(frozen=True)
class LoRASettings:
    """How a fine-tuning recipe uses LoRA: rank, alpha and target layers (None: every linear layer)."""

    rank: int = 16
    alpha: float = 16
    targets: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        check_rank_alpha(self.rank, self.alpha)
        if self.targets is not None:
            object.__setattr__(self, "targets", check_targets(self.targets))

    def apply(self, model: nn.Module) -> int:
        """Freeze `model` and add the adapters; returns the trainable parameter count."""
        return replace_linear_with_lora(model, self.rank, self.alpha, targets=self.targets)


# ---------------------------------------------------------------------------------------------
# Wrapping a model, counting, merging


def target_of(name: str) -> str | None:
    """Which of `TARGETS` the linear layer at module path `name` is; None for a layer outside a GPT's."""
    parts = name.split(".")
    if parts[-1] in _TARGET_OF_NAME:
        return _TARGET_OF_NAME[parts[-1]]
    if "ff" in parts:
        return "feed_forward"
    return None


def check_targets(targets: Any) -> tuple[str, ...]:
    """`targets` as a tuple in `TARGETS` order; `LoRAError` for an empty or unknown choice."""
    if isinstance(targets, str) or not hasattr(targets, "__iter__"):
        raise LoRAError(f"targets must be a list of layer kinds from {', '.join(TARGETS)}, got {targets!r}")
    chosen = set(targets)
    unknown = sorted(str(t) for t in chosen - set(TARGETS))
    if unknown:
        raise LoRAError(f"unknown LoRA targets {', '.join(unknown)}; choose from {', '.join(TARGETS)}")
    if not chosen:
        raise LoRAError("choose at least one kind of layer for LoRA")
    return tuple(t for t in TARGETS if t in chosen)


def lora_layers(model: nn.Module) -> dict[str, LinearWithLoRA]:
    """The model's adapted layers by module path."""
    return {name: m for name, m in model.named_modules() if isinstance(m, LinearWithLoRA)}


def replace_linear_with_lora(model: nn.Module, rank: int, alpha: float, *, targets: Any = None) -> int:
    """Freeze every weight of `model`, then wrap its linear layers in `LinearWithLoRA` (in place).

    `targets` (from `TARGETS`) limits which layers of a GPT get an adapter; None wraps every
    `nn.Linear`, as the book does. Returns the number of trainable parameters: the adapters'."""
    check_rank_alpha(rank, alpha)
    chosen = None if targets is None else check_targets(targets)
    if lora_layers(model):
        raise LoRAError("this model already has LoRA adapters; merge them (merge_lora) or start from the base model")
    found = [(name, m) for name, m in model.named_modules()
             if isinstance(m, nn.Linear) and (chosen is None or target_of(name) in chosen)]
    if not found:
        raise LoRAError("the model has no linear layer of the chosen kinds to adapt")
    wrapped = {name: LinearWithLoRA(linear, rank, alpha) for name, linear in found}  # every rank checked first
    model.requires_grad_(False)
    for name, layer in wrapped.items():
        parent, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent), child, layer)
    return trainable_parameters(model)


def trainable_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def total_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def merge_lora(model: nn.Module) -> nn.Module:
    """Replace every `LinearWithLoRA` by a plain `nn.Linear` holding W + alpha (A @ B).T (in place);
    the logits stay the same up to rounding, and inference costs what it did before LoRA."""
    for name, layer in lora_layers(model).items():
        old = layer.linear
        merged = nn.Linear(old.in_features, old.out_features, bias=old.bias is not None,
                           device=old.weight.device, dtype=old.weight.dtype)
        merged.weight.copy_(old.weight + layer.lora.delta_weight())
        if old.bias is not None:
            merged.bias.copy_(old.bias)
        merged.requires_grad_(old.weight.requires_grad)
        parent, _, child = name.rpartition(".")
        owner = model.get_submodule(parent)
        setattr(owner, child, merged)
        cfg = getattr(owner, "cfg", None)
        if child == "out_head" and isinstance(cfg, dict) and cfg.get("tie_weights"):
            owner.cfg = {**cfg, "tie_weights": False}  # the merged head is no longer the token embedding
    return model


# ---------------------------------------------------------------------------------------------
# Adapter checkpoints: lora.safetensors + lora.json, written atomically, never pickled


@dataclass(frozen=True)
class LoRACheckpoint:
    path: Path
    meta: dict[str, Any]

    @property
    def rank(self) -> int:
        return self.meta["rank"]

    @property
    def alpha(self) -> float:
        return self.meta["alpha"]

    @property
    def targets(self) -> tuple[str, ...] | None:
        targets = self.meta["targets"]
        return None if targets is None else tuple(targets)

    @property
    def base(self) -> dict[str, Any]:
        return self.meta["base"]

    @property
    def settings(self) -> dict[str, Any]:
        return self.meta["settings"]

    @property
    def size_bytes(self) -> int:
        return sum(f.stat().st_size for f in (self.path / TENSORS_FILE, self.path / META_FILE) if f.is_file())


def adapter_tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    """Every adapter's A and B by name (`<layer>.lora.A`, `<layer>.lora.B`)."""
    tensors = {}
    for name, layer in lora_layers(model).items():
        tensors[f"{name}.lora.A"] = layer.lora.A
        tensors[f"{name}.lora.B"] = layer.lora.B
    return tensors


def base_tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    """The model's tensors under the names they had before LoRA (adapters left out)."""
    wrappers = tuple(f"{name}." for name in lora_layers(model))
    out = {}
    for key, tensor in model.state_dict(keep_vars=True).items():
        prefix = next((w for w in wrappers if key.startswith(w)), None)
        if prefix is None:
            out[key] = tensor
        elif key.startswith(f"{prefix}linear."):
            out[prefix + key.removeprefix(f"{prefix}linear.")] = tensor
    return out


def base_fingerprint(model: nn.Module, exclude: tuple[str, ...] = ()) -> str:
    """A SHA-256 over the base's tensor names, shapes and values sampled from both ends of each
    (enough to tell two trained models apart, in milliseconds even for GPT-2)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(base_tensors(model).items()):
        if name in exclude:
            continue
        flat = tensor.detach().reshape(-1)
        sample = torch.cat([flat[:FINGERPRINT_SAMPLE], flat[-FINGERPRINT_SAMPLE:]]).float().cpu()
        digest.update(f"{name}:{tuple(tensor.shape)}:".encode())
        digest.update(sample.numpy().tobytes())
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_lora(
    run_dir: Path,
    model: nn.Module,
    *,
    base: dict[str, Any],
    new_tensors: tuple[str, ...] = (),
    settings: dict[str, Any] | None = None,
) -> LoRACheckpoint:
    """Save `model`'s adapters (and `new_tensors`, base names of layers the base does not have, such
    as a classifier's new head) with rank, alpha, targets, `base` (a JSON description of the base
    run or source) and the base's fingerprint. The tensors file first, the JSON last, each atomic."""
    layers = lora_layers(model)
    if not layers:
        raise LoRAError("the model has no LoRA adapters to save")
    ranks = {layer.lora.rank for layer in layers.values()}
    alphas = {layer.lora.alpha for layer in layers.values()}
    if len(ranks) != 1 or len(alphas) != 1:
        raise LoRAError("every adapter of a saved model must share one rank and one alpha")
    named = base_tensors(model)
    missing = [name for name in new_tensors if name not in named]
    if missing:
        raise LoRAError(f"the model has no tensor {', '.join(missing)}")
    kinds = {target_of(name) for name in layers}
    targets = None if None in kinds else [t for t in TARGETS if t in kinds]
    tensors = {**adapter_tensors(model), **{name: named[name] for name in new_tensors}}
    tensors = {name: t.detach().cpu().contiguous() for name, t in tensors.items()}
    run_dir = Path(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(run_dir / TENSORS_FILE, lambda tmp: save_file(tensors, str(tmp), metadata={"format": "pt"}))
        meta = {
            "format": FORMAT,
            "version": VERSION,
            "created": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "rank": ranks.pop(),
            "alpha": alphas.pop(),
            "targets": targets,
            "new_tensors": list(new_tensors),
            "base": {**base, "fingerprint": base_fingerprint(model, exclude=tuple(new_tensors))},
            "settings": settings or {},
            "tensors": {"file": TENSORS_FILE, "bytes": (run_dir / TENSORS_FILE).stat().st_size,
                        "sha256": _sha256(run_dir / TENSORS_FILE)},
        }
        write_text(run_dir / META_FILE, json.dumps(meta, indent=1, allow_nan=False))
    except OSError as err:
        raise LoRAError(f"could not save the LoRA adapter in {run_dir}: {err.strerror or err}") from err
    return LoRACheckpoint(run_dir, meta)


def read_lora(path: Path | str) -> LoRACheckpoint:
    """The adapter description in folder `path`, checked; tensors not loaded."""
    path = Path(path)
    meta_path = path / META_FILE
    if not meta_path.is_file():
        raise LoRAError(f"{path} is not a LoRA adapter: it has no {META_FILE}")
    if meta_path.stat().st_size > MAX_META_BYTES:
        raise LoRAError(f"{meta_path} is too large to be a LoRA adapter description")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise LoRAError(f"{meta_path} is not valid JSON ({err}); the file is damaged") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise LoRAError(f"{meta_path} is not an llm-journal LoRA adapter (version {VERSION})")
    try:
        check_rank_alpha(meta.get("rank"), meta.get("alpha"))
        if meta.get("targets") is not None:
            check_targets(meta["targets"])
    except LoRAError as err:
        raise LoRAError(f"{meta_path}: {err}") from None
    base, tensors, new = meta.get("base"), meta.get("tensors"), meta.get("new_tensors")
    if not (isinstance(meta.get("created"), str) and isinstance(base, dict)
            and isinstance(base.get("fingerprint"), str) and isinstance(tensors, dict)
            and isinstance(new, list) and all(isinstance(n, str) for n in new)
            and isinstance(meta.get("settings"), dict)):
        raise LoRAError(f"{meta_path} lacks a valid base, tensors or settings entry")
    return LoRACheckpoint(path, meta)


def is_adapter(path: Path | str) -> bool:
    """Whether run folder `path` holds a LoRA adapter (rather than a whole model)."""
    return (Path(path) / META_FILE).is_file()


def list_lora_runs(root: Path) -> list[LoRACheckpoint]:
    """Adapter run folders (named like every run) under `root`, newest first; damaged ones are skipped."""
    if not root.is_dir():
        return []
    runs = []
    for folder in root.iterdir():
        if RUN_ID.match(folder.name) and (folder / META_FILE).is_file():
            try:
                runs.append(read_lora(folder))
            except LoRAError:
                continue
    return sorted(runs, key=lambda run: (run.meta.get("created", ""), run.path.name), reverse=True)


def load_lora(path: Path | str, model: nn.Module) -> LoRACheckpoint:
    """Put the adapter saved in `path` onto `model`, its base (in place): the fingerprint must match,
    then the layers are wrapped as when it was trained and A, B and the new tensors copied in."""
    checkpoint = read_lora(path)
    if lora_layers(model):
        raise LoRAError("this model already has LoRA adapters; load an adapter onto the plain base model")
    new = tuple(checkpoint.meta["new_tensors"])
    if base_fingerprint(model, exclude=new) != checkpoint.base["fingerprint"]:
        described = checkpoint.base.get("name") or "another model"
        raise LoRAError(
            f"the LoRA adapter in {checkpoint.path} was trained on top of {described}, and this is a different "
            "base model: load it onto the model it was fine-tuned from"
        )
    record = checkpoint.meta["tensors"]
    tensors_path = checkpoint.path / TENSORS_FILE
    if not tensors_path.is_file() or tensors_path.stat().st_size != record.get("bytes") \
            or _sha256(tensors_path) != record.get("sha256"):
        raise LoRAError(f"the adapter file {tensors_path} is missing, truncated or was replaced")
    expected = {name: tuple(t.shape) for name, t in base_tensors(model).items() if name in new}
    for name, m in model.named_modules():
        if isinstance(m, nn.Linear) and (checkpoint.targets is None or target_of(name) in checkpoint.targets):
            expected[f"{name}.lora.A"] = (m.in_features, checkpoint.rank)
            expected[f"{name}.lora.B"] = (checkpoint.rank, m.out_features)
    try:
        with safe_open(str(tensors_path), framework="pt", device="cpu") as f:
            saved = {name: tuple(f.get_slice(name).get_shape()) for name in f.keys()}  # noqa: SIM118
            if saved != expected:
                raise LoRAError(f"the adapter in {checkpoint.path} does not fit this model's layers")
            replace_linear_with_lora(model, checkpoint.rank, checkpoint.alpha, targets=checkpoint.targets)
            targets = {**adapter_tensors(model), **{n: t for n, t in base_tensors(model).items() if n in new}}
            with torch.no_grad():
                for name, target in targets.items():
                    target.copy_(f.get_tensor(name))
    except (SafetensorError, OSError) as err:
        raise LoRAError(f"the adapter file {tensors_path} is not a valid safetensors file ({err})") from None
    return checkpoint
