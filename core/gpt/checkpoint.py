"""Saving and loading trained models (book section 5.4), safely.

A run folder `runs/<run-id>/` holds `model.safetensors` (weights), optionally
`optimizer.safetensors` (AdamW's moments, for resuming) and `checkpoint.json` (config,
training history, settings, tokenizer name, sizes and SHA-256 of the weight files).
Every file is written to a temporary name and renamed; `checkpoint.json` comes last, so a
folder either holds a complete checkpoint or is not listed as one. Nothing is unpickled.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from core.atomic import atomic_write, write_text
from core.errors import UserError
from core.gpt.config import validate_config
from core.gpt.model import GPTModel
from core.paths import runs_dir

FORMAT = "llm-journal-checkpoint"
VERSION = 1
META_FILE = "checkpoint.json"
WEIGHTS_FILE = "model.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"
TOKENIZERS = ("gpt2",)
MAX_META_BYTES = 64 * 1024 * 1024
RUN_ID = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{6}$")


class CheckpointError(UserError):
    """A checkpoint that is missing, not ours, damaged, or does not fit the model."""


@dataclass(frozen=True)
class Checkpoint:
    """A saved run: its folder and the contents of its `checkpoint.json`."""

    path: Path
    meta: dict[str, Any]

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def config(self) -> dict[str, Any]:
        return self.meta["config"]

    @property
    def status(self) -> str:
        """"finished" or "stopped" (stopped early by the user; still a complete checkpoint)."""
        return self.meta["status"]

    @property
    def created(self) -> str:
        return self.meta["created"]

    @property
    def size_bytes(self) -> int:
        """Disk space the run's files take (the optimizer's state, kept to resume, is most of it)."""
        try:
            return sum(f.stat().st_size for f in self.path.iterdir() if f.is_file())
        except OSError:  # deleted meanwhile, from another session
            return 0

    @property
    def history(self) -> list[dict[str, Any]]:
        return self.meta["history"]

    @property
    def settings(self) -> dict[str, Any]:
        return self.meta["settings"]

    @property
    def progress(self) -> dict[str, int]:
        """Optimizer steps, epochs and tokens seen in total, resumed runs included."""
        return self.meta["progress"]

    @property
    def has_optimizer(self) -> bool:
        return self.meta.get("optimizer") is not None


# ---------------------------------------------------------------------------------------------
# Run folders: named by the app, never by user text


def new_run_id() -> str:
    """A fresh run name: UTC time and 6 random hex digits, e.g. 20250102-153000-a1b2c3."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


def run_path(run_id: str, root: Path | None = None) -> Path:
    """The folder of run `run_id`; anything but a run name (such as "../x") is refused."""
    if not isinstance(run_id, str) or not RUN_ID.match(run_id):
        raise CheckpointError(f"{run_id!r} is not a run name (expected something like 20250102-153000-a1b2c3)")
    return (root or runs_dir()) / run_id


def list_runs(root: Path | None = None) -> list[Checkpoint]:
    """Complete checkpoints under `root` (default `runs_dir()`), newest first; damaged ones are skipped."""
    root = root or runs_dir()
    if not root.is_dir():
        return []
    runs = []
    for folder in root.iterdir():
        if RUN_ID.match(folder.name) and (folder / META_FILE).is_file():
            try:
                runs.append(read_checkpoint(folder))
            except CheckpointError:
                continue
    return sorted(runs, key=lambda run: (run.created, run.run_id), reverse=True)


def current_checkpoint(root: Path | None = None) -> Checkpoint | None:
    """The newest complete checkpoint: "the current model" the other widgets use."""
    runs = list_runs(root)
    return runs[0] if runs else None


def delete_run(run_id: str, root: Path | None = None) -> None:
    """Remove run `run_id` and its files."""
    path = run_path(run_id, root)
    if path.is_dir():
        shutil.rmtree(path)


# ---------------------------------------------------------------------------------------------
# Saving


def _file_record(path: Path) -> dict[str, Any]:
    return {"file": path.name, "bytes": path.stat().st_size, "sha256": _sha256(path)}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_tensors(model: GPTModel) -> dict[str, torch.Tensor]:
    """The model's weights by name, with a tied output head stored once (as the token embedding)."""
    tensors = dict(model.state_dict())
    if model.cfg["tie_weights"]:
        del tensors["out_head.weight"]
    return tensors


def optimizer_tensors(model: GPTModel, optimizer: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    """AdamW's per-parameter state as flat named tensors (`<param>.exp_avg`, ...)."""
    names = [name for name, _ in model.named_parameters()]
    flat = {}
    for index, state in optimizer.state_dict()["state"].items():
        for key, value in state.items():
            flat[f"{names[index]}.{key}"] = torch.as_tensor(value).detach().cpu().contiguous()
    return flat


def save_checkpoint(
    run_dir: Path,
    model: GPTModel,
    *,
    status: str,
    history: list[dict[str, Any]],
    settings: dict[str, Any],
    progress: dict[str, int],
    optimizer: torch.optim.Optimizer | None = None,
    resumed_from: str | None = None,
    tokenizer: str = "gpt2",
) -> Checkpoint:
    """Write a complete checkpoint into `run_dir` (created if needed), atomically file by file."""
    if status not in ("finished", "stopped"):
        raise UserError(f"status must be 'finished' or 'stopped', got {status!r}")
    if tokenizer not in TOKENIZERS:
        raise UserError(f"unknown tokenizer {tokenizer!r}")
    run_dir = Path(run_dir)
    json.dumps([history, settings, progress], allow_nan=False)  # fail before writing anything
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        weights = run_dir / WEIGHTS_FILE
        tensors = {name: t.detach().cpu().contiguous() for name, t in model_tensors(model).items()}
        atomic_write(weights, lambda tmp: save_file(tensors, str(tmp), metadata={"format": "pt"}))
        optimizer_record = None
        if optimizer is not None:
            opt_path = run_dir / OPTIMIZER_FILE
            state = optimizer_tensors(model, optimizer)
            atomic_write(opt_path, lambda tmp: save_file(state, str(tmp), metadata={"format": "pt"}))
            optimizer_record = _file_record(opt_path)
        meta = {
            "format": FORMAT,
            "version": VERSION,
            "created": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "status": status,
            "tokenizer": tokenizer,
            "config": model.cfg,
            "settings": settings,
            "progress": progress,
            "resumed_from": resumed_from,
            "weights": _file_record(weights),
            "optimizer": optimizer_record,
            "history": history,
        }
        text = json.dumps(meta, indent=1, allow_nan=False)
        write_text(run_dir / META_FILE, text)
    except OSError as err:
        raise CheckpointError(f"could not save the checkpoint in {run_dir}: {err.strerror or err}") from err
    return Checkpoint(run_dir, meta)


# ---------------------------------------------------------------------------------------------
# Loading: every check a user-readable CheckpointError


def read_checkpoint(path: Path | str) -> Checkpoint:
    """The checkpoint in folder `path` (or its `checkpoint.json`), metadata checked, weights not loaded."""
    path = Path(path)
    if path.name == META_FILE:
        path = path.parent
    meta_path = path / META_FILE
    if not path.is_dir():
        raise CheckpointError(f"{path} is not a folder; a checkpoint is a run folder holding {META_FILE}")
    if not meta_path.is_file():
        raise CheckpointError(f"{path} is not a checkpoint: it has no {META_FILE}")
    if meta_path.stat().st_size > MAX_META_BYTES:
        raise CheckpointError(f"{meta_path} is too large to be a checkpoint description")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{meta_path} is not valid JSON ({err}); the file is damaged or not a checkpoint") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{meta_path} is not an llm-journal checkpoint description")
    if meta.get("version") != VERSION:
        raise CheckpointError(f"{meta_path} has format version {meta.get('version')!r}; this app reads version {VERSION}")
    for key, kind in (("config", dict), ("history", list), ("settings", dict), ("progress", dict), ("weights", dict)):
        if not isinstance(meta.get(key), kind):
            raise CheckpointError(f"{meta_path} lacks a valid {key!r} entry")
    if meta.get("status") not in ("finished", "stopped") or not isinstance(meta.get("created"), str):
        raise CheckpointError(f"{meta_path} lacks a valid status or creation time")
    if meta.get("tokenizer") not in TOKENIZERS:
        raise CheckpointError(f"{meta_path} names tokenizer {meta.get('tokenizer')!r}; this app only has {TOKENIZERS}")
    try:
        meta["config"] = validate_config(meta["config"])
    except ValueError as err:
        raise CheckpointError(f"{meta_path} holds an invalid model config: {err}") from None
    return Checkpoint(path, meta)


def _open_tensors(path: Path, record: dict[str, Any] | None, what: str) -> Any:
    """An open safetensors file (a context manager), after checking it is the file `checkpoint.json` describes."""
    if not isinstance(record, dict) or record.get("file") != path.name:
        raise CheckpointError(f"{path.parent / META_FILE} does not describe the {what} file")
    if not path.is_file():
        raise CheckpointError(f"the {what} file {path} is missing")
    size = path.stat().st_size
    if size != record.get("bytes"):
        raise CheckpointError(
            f"the {what} file {path} has {size:,} bytes but the checkpoint expects {record.get('bytes')!r}: "
            "it is truncated or was replaced"
        )
    if _sha256(path) != record.get("sha256"):
        raise CheckpointError(f"the {what} file {path} does not match its recorded SHA-256: it is damaged or was replaced")
    try:
        return safe_open(str(path), framework="pt", device="cpu")
    except (SafetensorError, OSError) as err:
        raise CheckpointError(f"the {what} file {path} is not a valid safetensors file ({err})") from None


def empty_model(cfg: dict[str, Any], device: torch.device | str = "cpu") -> GPTModel:
    """A GPTModel with uninitialised weights, fast to build when they are about to be loaded."""
    with torch.device("meta"):
        model = GPTModel(cfg)
    model.to_empty(device=device)
    if model.cfg["tie_weights"]:  # to_empty gives each module its own tensor: tie them again
        model.out_head.weight = model.tok_emb.weight
    return model


def _load_weights(model: GPTModel, weights: Any, source: str) -> None:
    """Copy the tensors of open safetensors file `weights` into `model`, one at a time, after
    checking every name and shape (a mismatch raises before anything is copied)."""
    targets = model_tensors(model)
    names = set(weights.keys())
    problems = []
    missing = sorted(set(targets) - names)
    if missing:
        problems.append(f"missing {', '.join(missing[:4])}{' ...' if len(missing) > 4 else ''}")
    unexpected = sorted(names - set(targets))
    if unexpected:
        problems.append(f"unexpected {', '.join(unexpected[:4])}{' ...' if len(unexpected) > 4 else ''}")
    wrong = [
        f"{name} {shape} (model: {tuple(target.shape)})"
        for name, target in targets.items()
        if name in names and (shape := tuple(weights.get_slice(name).get_shape())) != tuple(target.shape)
    ]
    if wrong:
        problems.append(f"wrong shape {', '.join(wrong[:4])}{' ...' if len(wrong) > 4 else ''}")
    if problems:
        raise CheckpointError(f"the weights in {source} do not match its model config: " + "; ".join(problems))
    with torch.no_grad():
        for name, target in targets.items():
            target.copy_(weights.get_tensor(name))


def load_weights_into(module: torch.nn.Module, checkpoint: Checkpoint) -> None:
    """Copy `checkpoint`'s saved weights into `module`, checking names, shapes and the file's hash."""
    with _open_tensors(checkpoint.path / WEIGHTS_FILE, checkpoint.meta["weights"], "weights") as weights:
        _load_weights(module, weights, str(checkpoint.path))


def load_model(path: Path | str, device: torch.device | str = "cpu") -> tuple[GPTModel, Checkpoint]:
    """The model saved in run folder `path`, in evaluation mode, with its checkpoint."""
    checkpoint = read_checkpoint(path)
    model = empty_model(checkpoint.config, device)
    load_weights_into(model, checkpoint)
    return model.eval(), checkpoint


def load_optimizer(checkpoint: Checkpoint, model: GPTModel, optimizer: torch.optim.Optimizer) -> None:
    """Restore AdamW's moments from `checkpoint` into `optimizer` (which keeps its own learning rate)."""
    if not checkpoint.has_optimizer:
        raise CheckpointError(f"{checkpoint.path} was saved without optimizer state, so it cannot resume exactly")
    with _open_tensors(checkpoint.path / OPTIMIZER_FILE, checkpoint.meta["optimizer"], "optimizer") as f:
        flat = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118 (safe_open is not iterable)
    params = dict(model.named_parameters())
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in flat.items():
        name, _, field = key.rpartition(".")
        if name not in params:
            raise CheckpointError(f"the optimizer state in {checkpoint.path} names an unknown parameter {name!r}")
        if field in ("exp_avg", "exp_avg_sq") and value.shape != params[name].shape:
            raise CheckpointError(f"the optimizer state for {name} in {checkpoint.path} has the wrong shape")
        state.setdefault(list(params).index(name), {})[field] = value
    current = optimizer.state_dict()
    try:
        optimizer.load_state_dict({"state": state, "param_groups": current["param_groups"]})
    except (ValueError, KeyError) as err:
        raise CheckpointError(f"the optimizer state in {checkpoint.path} does not fit this model: {err}") from None
