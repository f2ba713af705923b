"""Run folders exactly as format version 1 wrote them (before typed sections), for reading tests.

Version 1 kept a classifier's head spec and evaluation results inside its `settings` dict.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file


def _record(path: Path) -> dict[str, Any]:
    return {"file": path.name, "bytes": path.stat().st_size,
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def write_v1_run(folder: Path, tensors: dict[str, torch.Tensor], cfg: dict[str, Any], *, settings: dict[str, Any],
                 status: str = "finished", progress: dict[str, int] | None = None,
                 history: list[dict[str, Any]] | None = None, created: str = "2025-01-02T15:30:00.000+00:00",
                 optimizer: dict[str, torch.Tensor] | None = None) -> Path:
    """A version-1 run folder: `model.safetensors`, optional `optimizer.safetensors`, `checkpoint.json`."""
    folder.mkdir(parents=True, exist_ok=True)
    weights = folder / "model.safetensors"
    save_file({k: v.detach().contiguous() for k, v in tensors.items()}, str(weights), metadata={"format": "pt"})
    optimizer_record = None
    if optimizer is not None:
        save_file(optimizer, str(folder / "optimizer.safetensors"), metadata={"format": "pt"})
        optimizer_record = _record(folder / "optimizer.safetensors")
    meta = {
        "format": "llm-journal-checkpoint",
        "version": 1,
        "created": created,
        "status": status,
        "tokenizer": "gpt2",
        "config": cfg,
        "settings": settings,
        "progress": progress or {"step": 0, "epoch": 0, "tokens_seen": 0},
        "resumed_from": None,
        "weights": _record(weights),
        "optimizer": optimizer_record,
        "history": history or [],
    }
    (folder / "checkpoint.json").write_text(json.dumps(meta, indent=1, allow_nan=False), encoding="utf-8")
    return folder


def v1_classifier_settings(classifier: Any, **extra: Any) -> dict[str, Any]:
    """What version 1's `save_classifier` put in `settings`: the head spec, then the run's own record."""
    return {
        "kind": "classifier",
        "labels": list(classifier.labels),
        "pooling": classifier.pooling,
        "max_length": classifier.max_length,
        "pad_id": classifier.pad_id,
        "compact_vocab": classifier.id_map is not None,
        **extra,
    }
