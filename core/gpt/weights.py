"""OpenAI's pretrained GPT-2 weights in our GPTModel (book section 5.5).

Hugging Face's GPT-2 checkpoints (`openai-community/gpt2`, `-medium`, `-large`, `-xl`) store
the attention and feed-forward layers as `Conv1D` (weights transposed relative to `nn.Linear`),
the query, key and value projections fused into one `c_attn` matrix, and an output head tied to
the token embedding. `load_hf_gpt2` maps every tensor and refuses anything missing or mis-shaped.
"""

from __future__ import annotations

import stat
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open

from core.errors import Unavailable, UserError
from core.gpt.checkpoint import DTYPES, MEMORY_BUDGET_BYTES, CheckpointError, empty_model, read_safetensors_header
from core.gpt.config import get_preset
from core.gpt.model import GPTModel
from core.paths import cache_dir

HF_REPOS = {
    "gpt2-small": "openai-community/gpt2",
    "gpt2-medium": "openai-community/gpt2-medium",
    "gpt2-large": "openai-community/gpt2-large",
    "gpt2-xl": "openai-community/gpt2-xl",
}
# Buffers some GPT-2 checkpoints carry (the causal mask); they hold no learned weights.
_IGNORED_SUFFIXES = (".attn.bias", ".attn.masked_bias")


class WeightsError(UserError):
    """A GPT-2 state dict that does not fit the model."""


class WeightsUnavailable(Unavailable):
    """The GPT-2 weights could not be downloaded (offline, or the hub failed)."""


def gpt2_config(size: str) -> dict[str, Any]:
    """Our config for an OpenAI GPT-2 size: its preset with query/key/value biases and a tied head."""
    if size not in HF_REPOS:
        raise UserError(f"unknown GPT-2 size {size!r}; choose one of {', '.join(HF_REPOS)}")
    return get_preset(size, qkv_bias=True, tie_weights=True, drop_rate=0.0)


class _Source:
    """A GPT-2 state dict read by name (with or without the `transformer.` prefix), shape-checked."""

    def __init__(self, state_dict: Mapping[str, torch.Tensor]):
        self._tensors = state_dict
        self._names = {key.removeprefix("transformer."): key for key in state_dict}
        self.used: set[str] = set()

    def __contains__(self, name: str) -> bool:
        return name in self._names

    def take(self, name: str, shape: tuple[int, ...]) -> torch.Tensor:
        if name not in self._names:
            raise WeightsError(f"the GPT-2 state dict has no tensor {name!r}")
        tensor = self._tensors[self._names[name]]
        if tuple(tensor.shape) != shape:
            raise WeightsError(f"GPT-2 tensor {name!r} has shape {tuple(tensor.shape)}, the model needs {shape}")
        self.used.add(name)
        return tensor

    def unused(self) -> list[str]:
        return sorted(n for n in self._names if n not in self.used and not n.endswith(_IGNORED_SUFFIXES))


def _copy(target: torch.Tensor, value: torch.Tensor) -> None:
    """Copy one tensor, refusing integer or boolean data (a cast would hide a wrong file) and NaN."""
    if not value.is_floating_point():
        raise WeightsError(f"a GPT-2 tensor holds {value.dtype} values, not floating-point weights")
    if not value.is_meta and not bool(torch.isfinite(value).all()):
        raise WeightsError("the GPT-2 weights hold NaN or infinite values: the file is damaged; download it again")
    target.copy_(value.to(target.dtype))


def load_hf_gpt2(model: GPTModel, state_dict: Mapping[str, torch.Tensor]) -> None:
    """Copy a Hugging Face GPT-2 state dict into `model` (which needs qkv_bias=True), in place."""
    cfg = model.cfg
    if not cfg["qkv_bias"]:
        raise WeightsError("GPT-2 has query/key/value biases: build the model with qkv_bias=True")
    d, vocab, ctx = cfg["emb_dim"], cfg["vocab_size"], cfg["context_length"]
    src = _Source(state_dict)
    with torch.no_grad():
        _copy(model.tok_emb.weight, src.take("wte.weight", (vocab, d)))
        _copy(model.pos_emb.weight, src.take("wpe.weight", (ctx, d)))
        for i, block in enumerate(model.trf_blocks):
            h = f"h.{i}."
            # Conv1D computes x @ W; nn.Linear computes x @ W.T, hence the transposes.
            qkv_w = src.take(h + "attn.c_attn.weight", (d, 3 * d)).T.split(d, dim=0)
            qkv_b = src.take(h + "attn.c_attn.bias", (3 * d,)).split(d)
            projections = (block.att.W_query, block.att.W_key, block.att.W_value)
            for linear, w, b in zip(projections, qkv_w, qkv_b, strict=True):
                _copy(linear.weight, w)
                _copy(linear.bias, b)
            _copy(block.att.out_proj.weight, src.take(h + "attn.c_proj.weight", (d, d)).T)
            _copy(block.att.out_proj.bias, src.take(h + "attn.c_proj.bias", (d,)))
            _copy(block.ff.layers[0].weight, src.take(h + "mlp.c_fc.weight", (d, 4 * d)).T)
            _copy(block.ff.layers[0].bias, src.take(h + "mlp.c_fc.bias", (4 * d,)))
            _copy(block.ff.layers[2].weight, src.take(h + "mlp.c_proj.weight", (4 * d, d)).T)
            _copy(block.ff.layers[2].bias, src.take(h + "mlp.c_proj.bias", (d,)))
            for norm, name in ((block.norm1, "ln_1"), (block.norm2, "ln_2")):
                _copy(norm.scale, src.take(h + name + ".weight", (d,)))
                _copy(norm.shift, src.take(h + name + ".bias", (d,)))
        _copy(model.final_norm.scale, src.take("ln_f.weight", (d,)))
        _copy(model.final_norm.shift, src.take("ln_f.bias", (d,)))
        head = src.take("lm_head.weight", (vocab, d)) if "lm_head.weight" in src else None
        if cfg["tie_weights"]:
            if head is not None and not head.is_meta and not torch.equal(head, model.tok_emb.weight.to(head.dtype)):
                raise WeightsError(
                    "this checkpoint's output head differs from its token embedding: use tie_weights=False"
                )
        else:
            _copy(model.out_head.weight, model.tok_emb.weight if head is None else head)
    unused = src.unused()
    if unused:
        shown = ", ".join(unused[:5]) + (" ..." if len(unused) > 5 else "")
        raise WeightsError(
            f"the GPT-2 state dict has {len(unused)} tensor(s) the model has no place for ({shown}): "
            "is the model config the same size as the checkpoint?"
        )


class _SafetensorsMapping(Mapping[str, torch.Tensor]):
    """An open safetensors file as a read-only mapping that loads each tensor when asked."""

    def __init__(self, handle: Any):
        self._handle = handle
        self._keys = list(handle.keys())

    def __getitem__(self, key: str) -> torch.Tensor:
        if key not in self._keys:
            raise KeyError(key)
        return self._handle.get_tensor(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


def _check_file(path: Path, cfg: dict[str, Any]) -> None:
    """Refuse what is not a plain safetensors file within the memory budget, and a header whose
    names, shapes or dtypes do not fit `cfg` (a dry run on the meta device), before allocating."""
    try:
        info = path.stat()
    except OSError as err:
        raise WeightsError(f"{path} is not a readable safetensors file ({err.strerror or err})") from None
    if not stat.S_ISREG(info.st_mode):
        raise WeightsError(f"{path} is not a plain file (a pipe, device or folder): give the weights file itself")
    if info.st_size > MEMORY_BUDGET_BYTES:
        raise WeightsError(f"{path} has {info.st_size / 2**30:,.1f} GB, more than the "
                           f"{MEMORY_BUDGET_BYTES / 2**30:,.0f} GB this app loads: use a smaller GPT-2")
    try:
        header = read_safetensors_header(path)
    except CheckpointError as err:
        raise WeightsError(f"{path} is not a readable safetensors file ({err})") from None
    dtypes = {name: dtype for dtype, name in DTYPES.items()}
    unknown = sorted(name for name, (dtype, _) in header.items() if dtype not in dtypes)
    if unknown:
        raise WeightsError(f"{path} stores {unknown[0]} as {header[unknown[0]][0]}, which this app does not read")
    with torch.device("meta"):
        shapes = {name: torch.empty(shape, dtype=dtypes[dtype]) for name, (dtype, shape) in header.items()}
        load_hf_gpt2(GPTModel(cfg), shapes)


def load_hf_gpt2_file(path: Path | str, cfg: dict[str, Any]) -> GPTModel:
    """A GPTModel for `cfg` with the weights of a GPT-2 `model.safetensors` file, in evaluation mode.

    The file's header is checked first; tensors are then read one at a time, so memory peaks near
    one copy of the model.
    """
    _check_file(Path(path), cfg)
    model = empty_model(cfg)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            load_hf_gpt2(model, _SafetensorsMapping(handle))
    except (SafetensorError, OSError) as err:
        raise WeightsError(f"{path} is not a readable safetensors file ({err})") from None
    return model.eval()


def download_gpt2(size: str) -> Path:
    """Path of GPT-2 `size`'s `model.safetensors`, downloaded from Hugging Face once and then cached."""
    from huggingface_hub import hf_hub_download

    gpt2_config(size)  # refuses an unknown size before any network traffic
    repo = HF_REPOS[size]
    try:
        return Path(hf_hub_download(repo, "model.safetensors", cache_dir=cache_dir() / "huggingface"))
    except Exception as err:  # network and hub errors come in many types; all mean "not available"
        raise WeightsUnavailable(
            f"could not get the GPT-2 {size} weights from Hugging Face ({repo}): {type(err).__name__}: {err}. "
            "This needs an internet connection the first time; afterwards they load from the cache "
            f"in {cache_dir() / 'huggingface'}."
        ) from err


def load_gpt2(size: str) -> GPTModel:
    """OpenAI's pretrained GPT-2 `size` as a GPTModel (downloads on first use)."""
    return load_hf_gpt2_file(download_gpt2(size), gpt2_config(size))
