"""Saving and loading trained models (book section 5.4), safely.

A run folder `runs/<run-id>/` holds `model.safetensors` (weights), optionally
`optimizer.safetensors` (AdamW's moments, for resuming) and `checkpoint.json`: the model config,
the training settings, progress and history, a classifier's head spec and evaluation results
(typed sections, format version 2; version-1 files, which kept the last two inside the settings,
are read too), the tokenizer name, and sizes and SHA-256 of the weight files. Every file is written
to a temporary name and renamed; `checkpoint.json` comes last, so a folder either holds a complete
checkpoint or is an incomplete one (`core.app.runs` lists both). Nothing is unpickled, and loading
checks the metadata, then the weight file's header against the config and a memory budget, then
its hash, before anything is allocated.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import shutil
import stat
import struct
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from core.atomic import atomic_write, write_text
from core.errors import UserError
from core.gpt.config import GPT2_VOCAB_SIZE, validate_config
from core.gpt.model import GPTModel
from core.paths import runs_dir

FORMAT = "llm-journal-checkpoint"
VERSION = 2
READABLE_VERSIONS = (1, 2)
META_FILE = "checkpoint.json"
WEIGHTS_FILE = "model.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"
TOKENIZERS = ("gpt2",)
STATUSES = ("finished", "stopped")
MAX_META_BYTES = 64 * 1024 * 1024
MAX_HEADER_BYTES = 16 * 1024 * 1024
# Enough for GPT-2 XL in float32 (6.2 GB); a hosted demo has far less, and says so when it runs out.
MEMORY_BUDGET_BYTES = 8 * 2**30
MAX_COUNT = 10**15  # steps, epochs, tokens: far beyond any run, small enough to print and sum
RUN_ID = re.compile(r"\d{8}-\d{6}-[0-9a-f]{6}\Z", re.ASCII)  # \Z: no trailing newline, with match too
SPLITS = ("train", "val", "test")
DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
          torch.int64: "I64", torch.int32: "I32", torch.bool: "BOOL", torch.uint8: "U8"}
# A version-1 classifier kept these in its settings; version 2 gives them their own sections.
_V1_HEAD_KEYS = ("kind", "labels", "pooling", "max_length", "pad_id", "compact_vocab")
_V1_RESULT_KEYS = ("accuracy", "confusion", "misclassified_lines")


class CheckpointError(UserError):
    """A checkpoint that is missing, not ours, damaged, or does not fit the model."""


@dataclass(frozen=True)
class HeadSpec:
    """A classifier's head: its labels, how it reads one prediction per text, its padding and vocabulary."""

    labels: tuple[str, ...]
    pooling: str
    max_length: int
    pad_id: int
    compact_vocab: bool

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "labels": list(self.labels)}


@dataclass(frozen=True)
class Results:
    """A classifier's evaluation per split ("train", "val", "test"): accuracy, confusion matrix
    (rows: true label) and the data-file lines of the messages it got wrong."""

    accuracy: dict[str, float] = field(default_factory=dict)
    confusion: dict[str, list[list[int]]] = field(default_factory=dict)
    misclassified_lines: dict[str, list[int]] = field(default_factory=dict)


@dataclass(frozen=True)
class Checkpoint:
    """A saved run: its folder and the checked contents of its `checkpoint.json`."""

    path: Path
    meta: dict[str, Any]
    head: HeadSpec | None = None
    results: Results | None = None

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
        """When it was saved (UTC, ISO 8601), never later than when it was read."""
        return self.meta["created"]

    @property
    def size_bytes(self) -> int:
        """Disk space the run's files take (the optimizer's state, kept to resume, is most of it)."""
        return folder_size(self.path)

    @property
    def history(self) -> list[dict[str, Any]]:
        return self.meta["history"]

    @property
    def settings(self) -> dict[str, Any]:
        """The training settings (learning rate, epochs, preset, base model ...)."""
        return self.meta["settings"]

    @property
    def preset(self) -> str:
        return self.settings.get("preset") or "custom"

    @property
    def progress(self) -> dict[str, int]:
        """Optimizer steps, epochs and tokens seen in total, resumed runs included (and `total_steps`
        the run was set for, when it was saved)."""
        return self.meta["progress"]

    @property
    def total_steps(self) -> int | None:
        """The step a stopped run would have finished at, when known."""
        if "total_steps" in self.progress:
            return self.progress["total_steps"]
        start = next((e for e in self.history if e.get("type") == "start"), None)
        total = start.get("total_steps") if start else None
        return total if _is_count(total) else None

    @property
    def has_optimizer(self) -> bool:
        return self.meta.get("optimizer") is not None


def folder_size(path: Path) -> int:
    """Bytes the plain files in `path` take (0 when it is gone)."""
    try:
        return sum(f.stat(follow_symlinks=False).st_size for f in path.iterdir() if f.is_file())
    except OSError:  # deleted meanwhile, from another session
        return 0


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_COUNT


# ---------------------------------------------------------------------------------------------
# Run folders: named by the app, never by user text


def new_run_id() -> str:
    """A fresh run name: UTC time and 6 random hex digits, e.g. 20250102-153000-a1b2c3."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


def is_run_id(name: Any) -> bool:
    return isinstance(name, str) and RUN_ID.fullmatch(name) is not None


def run_path(run_id: str, root: Path | None = None) -> Path:
    """The folder of run `run_id`; anything but a run name (such as "../x") is refused."""
    if not is_run_id(run_id):
        raise CheckpointError(f"{run_id!r:.60} is not a run name (expected something like 20250102-153000-a1b2c3)")
    return (root or runs_dir()) / run_id


def list_runs(root: Path | None = None) -> list[Checkpoint]:
    """Complete checkpoints under `root` (default `runs_dir()`), newest first; damaged and incomplete
    ones are left out (`core.app.runs` lists those too, and defines the app's current model)."""
    root = root or runs_dir()
    if not root.is_dir():
        return []
    runs = []
    for folder in root.iterdir():
        if is_run_id(folder.name) and not folder.is_symlink() and (folder / META_FILE).is_file():
            try:
                runs.append(read_checkpoint(folder))
            except CheckpointError:
                continue
    return sorted(runs, key=lambda run: (run.created, run.run_id), reverse=True)


def delete_run(run_id: str, root: Path | None = None) -> None:
    """Remove run `run_id` and its files (a link or file named like a run is removed, never followed)."""
    path = run_path(run_id, root)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


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


def model_tensors(model: torch.nn.Module) -> dict[str, torch.Tensor]:
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
    model: torch.nn.Module,
    *,
    status: str,
    history: list[dict[str, Any]],
    settings: dict[str, Any],
    progress: dict[str, int],
    optimizer: torch.optim.Optimizer | None = None,
    resumed_from: str | None = None,
    tokenizer: str = "gpt2",
    head: HeadSpec | None = None,
    results: Results | None = None,
) -> Checkpoint:
    """Write a complete checkpoint into `run_dir` (created if needed), atomically file by file.

    `optimizer` (its state kept for resuming exactly) is optional; `head` and `results` describe a
    classifier (`core.gpt.classifier.save_classifier`)."""
    if status not in STATUSES:
        raise UserError(f"status must be 'finished' or 'stopped', got {status!r}")
    if tokenizer not in TOKENIZERS:
        raise UserError(f"unknown tokenizer {tokenizer!r}")
    run_dir = Path(run_dir)
    sections = {"settings": settings, "progress": progress, "history": history,
                "head": head.to_json() if head else None, "results": asdict(results) if results else None}
    json.dumps(sections, allow_nan=False)  # fail before writing anything
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        weights = run_dir / WEIGHTS_FILE
        tensors = {name: t.detach().cpu().contiguous() for name, t in model_tensors(model).items()}
        atomic_write(weights, lambda tmp: save_file(tensors, str(tmp), metadata={"format": "pt"}))
        optimizer_record = None
        opt_path = run_dir / OPTIMIZER_FILE
        if optimizer is not None:
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
            **sections,
            "resumed_from": resumed_from,
            "weights": _file_record(weights),
            "optimizer": optimizer_record,
        }
        write_text(run_dir / META_FILE, json.dumps(meta, indent=1, allow_nan=False))
        if optimizer is None:
            opt_path.unlink(missing_ok=True)  # an older save's state no longer matches these weights
    except OSError as err:
        raise CheckpointError(f"could not save the checkpoint in {run_dir}: {err.strerror or err}") from err
    return Checkpoint(run_dir, meta, head, results)


def drop_optimizer(checkpoint: Checkpoint) -> Checkpoint:
    """Forget a run's optimizer state to free its disk space (the run can still be resumed, less exactly)."""
    if not checkpoint.has_optimizer:
        return checkpoint
    meta = {**checkpoint.meta, "version": VERSION, "optimizer": None}
    if checkpoint.meta.get("version") == 1:  # rewritten in the version-2 layout
        meta["head"] = checkpoint.head.to_json() if checkpoint.head else None
        meta["results"] = asdict(checkpoint.results) if checkpoint.results else None
    try:
        write_text(checkpoint.path / META_FILE, json.dumps(meta, indent=1, allow_nan=False))
        (checkpoint.path / OPTIMIZER_FILE).unlink(missing_ok=True)
    except OSError as err:
        raise CheckpointError(f"could not update {checkpoint.path}: {err.strerror or err}") from err
    return Checkpoint(checkpoint.path, meta, checkpoint.head, checkpoint.results)


# ---------------------------------------------------------------------------------------------
# Reading checkpoint.json: every check a user-readable CheckpointError


def regular_file(path: Path, folder: Path, what: str) -> Path:
    """`path` if it is a plain file inside `folder` (a symlink may point elsewhere in it); never a
    FIFO, a device or a link out of the run folder, which could block a reader or leak another file."""
    if path.is_symlink():
        try:
            target = path.resolve(strict=True)
            inside = target.is_relative_to(folder.resolve(strict=True))
        except (OSError, RuntimeError):
            raise CheckpointError(f"the {what} {path} is a broken link") from None
        if not inside:
            raise CheckpointError(f"the {what} {path} links outside its run folder: delete the run")
    try:
        mode = path.stat().st_mode
    except OSError:
        raise CheckpointError(f"the {what} {path} is missing") from None
    if not stat.S_ISREG(mode):
        raise CheckpointError(f"the {what} {path} is not a plain file (a pipe, device or folder): delete the run")
    return path


def read_checkpoint(path: Path | str) -> Checkpoint:
    """The checkpoint in folder `path` (or its `checkpoint.json`), metadata checked, weights not loaded."""
    path = Path(path)
    if path.name == META_FILE:
        path = path.parent
    meta_path = path / META_FILE
    if not path.is_dir():
        raise CheckpointError(f"{path} is not a folder; a checkpoint is a run folder holding {META_FILE}")
    if not meta_path.exists() and not meta_path.is_symlink():
        raise CheckpointError(f"{path} is not a checkpoint: it has no {META_FILE}")
    regular_file(meta_path, path, "checkpoint description")
    if meta_path.stat().st_size > MAX_META_BYTES:
        raise CheckpointError(f"{meta_path} is too large to be a checkpoint description")
    try:
        meta = json.loads(meta_path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:  # JSONDecodeError; huge integers; deep nesting
        reason = "nested too deeply" if isinstance(err, RecursionError) else f"{err}"[:200]
        raise CheckpointError(
            f"{meta_path} is not valid JSON ({reason}); the file is damaged or not a checkpoint"
        ) from None
    except OSError as err:
        raise CheckpointError(f"could not read {meta_path}: {err.strerror or err}") from None
    return _checked(path, meta_path, meta)


def _checked(path: Path, meta_path: Path, meta: Any) -> Checkpoint:
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{meta_path} is not an llm-journal checkpoint description")
    version = meta.get("version")
    if version not in READABLE_VERSIONS or isinstance(version, bool):
        raise CheckpointError(f"{meta_path} has format version {version!r:.20}; this app reads versions 1 and 2")
    for key, kind in (("config", dict), ("history", list), ("settings", dict), ("progress", dict), ("weights", dict)):
        if not isinstance(meta.get(key), kind):
            raise CheckpointError(f"{meta_path} lacks a valid {key!r} entry")
    if meta.get("status") not in STATUSES:
        raise CheckpointError(f"{meta_path} lacks a valid status")
    if meta.get("tokenizer") not in TOKENIZERS:
        name = meta.get("tokenizer")
        raise CheckpointError(f"{meta_path} names tokenizer {name!r:.40}; this app only has {TOKENIZERS}")
    if not all(isinstance(event, dict) for event in meta["history"]):
        raise CheckpointError(f"{meta_path} has a training history with entries that are not events")
    if not isinstance(meta["settings"].get("preset", ""), str):
        raise CheckpointError(f"{meta_path} names a preset that is not text")
    created, progress = _created(meta.get("created"), meta_path), _progress(meta["progress"], meta_path)
    meta = {**meta, "created": created, "progress": progress}
    try:
        meta["config"] = validate_config(meta["config"])
    except UserError as err:
        raise CheckpointError(f"{meta_path} holds an invalid model config: {err}") from None
    if version == 1:
        settings = dict(meta["settings"])
        head_json = results_json = None
        if settings.get("kind") == "classifier":
            head_json = {key: settings.pop(key, None) for key in _V1_HEAD_KEYS}
            results_json = {key: settings.pop(key) for key in _V1_RESULT_KEYS if key in settings} or None
        meta["settings"] = settings
    else:
        head_json, results_json = meta.get("head"), meta.get("results")
    head = None if head_json is None else _head(head_json, meta["config"], meta_path)
    results = None if results_json is None else _results(results_json, meta_path)
    return Checkpoint(path, meta, head, results)


def _created(value: Any, meta_path: Path) -> str:
    """The saving time as ISO 8601 UTC, never later than the file was written: a date in the future
    would keep a run "the newest" forever."""
    try:
        when = datetime.fromisoformat(value) if isinstance(value, str) and len(value) <= 40 else None
    except ValueError:
        when = None
    if when is None:
        raise CheckpointError(f"{meta_path} lacks a valid creation time")
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    try:
        written = datetime.fromtimestamp(meta_path.stat().st_mtime, UTC)
    except (OSError, OverflowError, ValueError):
        written = datetime.now(UTC)
    return min(when, written, datetime.now(UTC)).isoformat(timespec="milliseconds")


def _progress(progress: dict[str, Any], meta_path: Path) -> dict[str, int]:
    out = {key: progress.get(key, 0) for key in ("step", "epoch", "tokens_seen")}
    if "total_steps" in progress:
        out["total_steps"] = progress["total_steps"]
    bad = [key for key, value in out.items() if not _is_count(value)]
    if bad:
        raise CheckpointError(f"{meta_path} has an invalid progress {', '.join(bad)}: expected whole numbers from 0")
    return out


def _head(data: Any, config: dict[str, Any], meta_path: Path) -> HeadSpec:
    problem = None
    if not isinstance(data, dict):
        problem = "it is not a description"
    else:
        labels, max_length, pad_id = data.get("labels"), data.get("max_length"), data.get("pad_id")
        if not (isinstance(labels, list) and 2 <= len(labels) <= 1000 and all(isinstance(x, str) and len(x) <= 200
                                                                               for x in labels)
                and len(set(labels)) == len(labels)):
            problem = "its labels must be at least two distinct names"
        elif data.get("pooling") not in ("last", "mean", "max"):
            problem = f"unknown pooling {data.get('pooling')!r:.40}"
        elif not (_is_count(max_length) and 1 <= max_length <= config["context_length"]):
            problem = f"max_length must be between 1 and the context length {config['context_length']}"
        elif not (_is_count(pad_id) and pad_id < GPT2_VOCAB_SIZE):
            problem = f"pad_id must be a GPT-2 token ID (0 to {GPT2_VOCAB_SIZE - 1})"
        elif not isinstance(data.get("compact_vocab"), bool):
            problem = "compact_vocab must be true or false"
    if problem:
        raise CheckpointError(f"{meta_path} has an invalid classifier description: {problem}")
    return HeadSpec(tuple(data["labels"]), data["pooling"], data["max_length"], data["pad_id"], data["compact_vocab"])


def _results(data: Any, meta_path: Path) -> Results:
    def fine(section: Any, ok: Any) -> bool:
        return isinstance(section, dict) and set(section) <= set(SPLITS) and all(ok(v) for v in section.values())

    def matrix(rows: Any) -> bool:
        return (isinstance(rows, list) and all(isinstance(r, list) and len(r) == len(rows) for r in rows)
                and all(_is_count(n) for r in rows for n in r))

    accuracy, confusion = data.get("accuracy", {}) if isinstance(data, dict) else None, None
    lines = None
    if isinstance(data, dict):
        confusion, lines = data.get("confusion", {}), data.get("misclassified_lines", {})
    if not (fine(accuracy, lambda a: isinstance(a, (int, float)) and not isinstance(a, bool) and 0 <= a <= 1)
            and fine(confusion, matrix) and fine(lines, lambda v: isinstance(v, list) and all(map(_is_count, v)))):
        raise CheckpointError(f"{meta_path} has invalid evaluation results (accuracy, confusion or wrong lines)")
    return Results({k: float(v) for k, v in accuracy.items()}, confusion, lines)


# ---------------------------------------------------------------------------------------------
# Loading tensors: the header first (names, shapes, dtypes, sizes, memory), then the hash, then the data


def read_safetensors_header(path: Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Tensor name -> (dtype, shape) from a safetensors file's header, after checking that the header
    is sound and that the tensors fill the file exactly. Reads only the header."""
    size = path.stat().st_size
    try:
        with open(path, "rb") as f:
            (length,) = struct.unpack("<Q", f.read(8))
            if not 2 <= length <= min(MAX_HEADER_BYTES, size - 8):
                raise ValueError("bad header length")
            header = json.loads(f.read(length).decode("utf-8"))
        tensors, end = {}, 0
        spans = []
        for name, info in header.items():
            if name == "__metadata__":
                continue
            dtype, shape, (begin, stop) = info["dtype"], tuple(info["shape"]), info["data_offsets"]
            if not (isinstance(dtype, str) and all(map(_is_count, (*shape, begin, stop)))):
                raise ValueError("bad tensor entry")
            tensors[name] = (dtype, shape)
            spans.append((begin, stop))
            end = max(end, stop)
    except (OSError, ValueError, KeyError, TypeError, RecursionError, struct.error, UnicodeDecodeError,
            AttributeError) as err:
        raise CheckpointError(f"{path} is not a valid safetensors file ({str(err)[:100]})") from None
    spans.sort()
    if any(a[1] > b[0] for a, b in zip(spans, spans[1:], strict=False)) or end != size - 8 - length:
        raise CheckpointError(f"{path} is not a valid safetensors file (its tensors do not fill the file exactly)")
    return tensors


def _expected(module: torch.nn.Module) -> dict[str, tuple[str, tuple[int, ...]]]:
    return {name: (DTYPES.get(t.dtype, str(t.dtype)), tuple(t.shape)) for name, t in model_tensors(module).items()}


def _check_tensors(found: dict[str, tuple[str, tuple[int, ...]]], wanted: dict[str, tuple[str, tuple[int, ...]]],
                   source: str, what: str) -> None:
    """A CheckpointError naming every missing, unexpected, mis-shaped or mis-typed tensor."""
    def some(items: list[str]) -> str:
        return ", ".join(items[:4]) + (" ..." if len(items) > 4 else "")

    problems = []
    missing = sorted(set(wanted) - set(found))
    if missing:
        problems.append(f"missing {some(missing)}")
    unexpected = sorted(set(found) - set(wanted))
    if unexpected:
        problems.append(f"unexpected {some(unexpected)}")
    common = [name for name in wanted if name in found]
    wrong = [f"{n} {found[n][1]} (model: {wanted[n][1]})" for n in common if found[n][1] != wanted[n][1]]
    if wrong:
        problems.append(f"wrong shape {some(wrong)}")
    types = [f"{n} {found[n][0]} (model: {wanted[n][0]})" for n in common if found[n][0] != wanted[n][0]]
    if types:
        problems.append(f"wrong type {some(types)}")
    if problems:
        raise CheckpointError(f"the {what} in {source} do not match its model config: " + "; ".join(problems))


def _open_tensors(checkpoint: Checkpoint, file: str, record: Any, what: str,
                  wanted: dict[str, tuple[str, tuple[int, ...]]] | None, memory_budget: int) -> Any:
    """The open safetensors file (a context manager) after checking, in order of cost: that it is the
    plain file `checkpoint.json` describes, its size and memory budget, its header, and its hash."""
    path = checkpoint.path / file
    if not isinstance(record, dict) or record.get("file") != file:
        raise CheckpointError(f"{checkpoint.path / META_FILE} does not describe the {what} file")
    regular_file(path, checkpoint.path, f"{what} file")
    size = path.stat().st_size
    if size != record.get("bytes"):
        raise CheckpointError(
            f"the {what} file {path} has {size:,} bytes but the checkpoint expects {record.get('bytes')!r:.20}: "
            "it is truncated or was replaced"
        )
    if size > memory_budget:
        raise CheckpointError(f"the {what} file {path} needs {size / 2**30:,.1f} GB of memory, more than the "
                              f"{memory_budget / 2**30:,.1f} GB this app allows: use a smaller model")
    found = read_safetensors_header(path)
    if wanted is not None:
        _check_tensors(found, wanted, str(checkpoint.path), what)
    if _sha256(path) != record.get("sha256"):
        raise CheckpointError(f"the {what} file {path} does not match its recorded SHA-256: damaged or replaced")
    try:
        return safe_open(str(path), framework="pt", device="cpu")
    except (SafetensorError, OSError) as err:
        raise CheckpointError(f"the {what} file {path} is not a valid safetensors file ({err})") from None


def empty_model(cfg: dict[str, Any], device: torch.device | str = "cpu") -> GPTModel:
    """A GPTModel with uninitialised weights, fast to build when they are about to be loaded."""
    with torch.device("meta"):
        model = GPTModel(cfg)
    return materialize(model, device)


def materialize(module: torch.nn.Module, device: torch.device | str = "cpu") -> Any:
    """A module built on the meta device given real (uninitialised) memory, a tied head tied again."""
    module.to_empty(device=device)
    gpt = getattr(module, "gpt", module)
    if gpt.cfg["tie_weights"]:  # to_empty gives each module its own tensor: tie them again
        gpt.out_head.weight = gpt.tok_emb.weight
    return module


def load_weights_into(module: torch.nn.Module, checkpoint: Checkpoint, *,
                      memory_budget: int = MEMORY_BUDGET_BYTES) -> None:
    """Copy `checkpoint`'s saved weights into `module` (real or on the meta device: it is only read
    for names, shapes and dtypes before the checks pass), refusing NaN or infinite values."""
    wanted = _expected(module)
    with _open_tensors(checkpoint, WEIGHTS_FILE, checkpoint.meta["weights"], "weights", wanted, memory_budget) as f:
        if any(t.is_meta for t in module.state_dict().values()):
            materialize(module)
        targets = model_tensors(module)
        with torch.no_grad():
            for name, target in targets.items():
                value = f.get_tensor(name)
                if value.is_floating_point() and not bool(torch.isfinite(value).all()):
                    raise CheckpointError(f"the weights in {checkpoint.path} hold NaN or infinite values ({name}): "
                                          "the run diverged or the file is damaged; delete it and train again")
                target.copy_(value)


def load_model(path: Path | str, device: torch.device | str = "cpu", *,
               memory_budget: int = MEMORY_BUDGET_BYTES) -> tuple[GPTModel, Checkpoint]:
    """The model saved in run folder `path`, in evaluation mode, with its checkpoint. Nothing is
    allocated before the weight file's header matches the config and fits `memory_budget`."""
    checkpoint = read_checkpoint(path)
    if checkpoint.head is not None:
        raise CheckpointError(f"{checkpoint.path} holds a classifier, not a language model")
    with torch.device("meta"):
        model = GPTModel(checkpoint.config)
    load_weights_into(model, checkpoint, memory_budget=memory_budget)
    return model.to(device).eval(), checkpoint


_MOMENTS = ("exp_avg", "exp_avg_sq")


def load_optimizer(checkpoint: Checkpoint, model: GPTModel, optimizer: torch.optim.Optimizer) -> None:
    """Restore AdamW's moments from `checkpoint` into `optimizer` (which keeps its own learning rate)."""
    if not checkpoint.has_optimizer:
        raise CheckpointError(f"{checkpoint.path} was saved without optimizer state, so it cannot resume exactly")
    params = dict(model.named_parameters())
    wanted = {}
    for name, param in params.items():
        wanted[f"{name}.step"] = ("F32", ())
        for moment in _MOMENTS:
            wanted[f"{name}.{moment}"] = ("F32", tuple(param.shape))
    with _open_tensors(checkpoint, OPTIMIZER_FILE, checkpoint.meta["optimizer"], "optimizer state", None,
                       3 * MEMORY_BUDGET_BYTES) as f:
        found = {key: (f.get_slice(key).get_dtype(), tuple(f.get_slice(key).get_shape())) for key in f.keys()}  # noqa: SIM118
        unknown = sorted(set(found) - set(wanted))
        if unknown:
            raise CheckpointError(f"the optimizer state in {checkpoint.path} names an unknown parameter or field "
                                  f"{unknown[0]!r:.80}: it does not fit this model")
        _check_tensors(found, {k: v for k, v in wanted.items() if k in found}, str(checkpoint.path), "optimizer state")
        flat = {key: f.get_tensor(key) for key in found}
    state: dict[int, dict[str, torch.Tensor]] = {}
    index = {name: i for i, name in enumerate(params)}
    for key, value in flat.items():
        name, _, part = key.rpartition(".")
        if not bool(torch.isfinite(value).all()) or (part != "exp_avg" and bool((value < 0).any())):
            raise CheckpointError(f"the optimizer state in {checkpoint.path} holds invalid values ({key}): "
                                  "resume without it or delete the run")
        state.setdefault(index[name], {})[part] = value
    incomplete = [params_name for params_name, i in index.items() if i in state and len(state[i]) != 3]
    if incomplete:
        raise CheckpointError(f"the optimizer state in {checkpoint.path} is incomplete for {incomplete[0]}")
    current = optimizer.state_dict()
    try:
        optimizer.load_state_dict({"state": state, "param_groups": current["param_groups"]})
    except (ValueError, KeyError) as err:
        raise CheckpointError(f"the optimizer state in {checkpoint.path} does not fit this model: {err}") from None
