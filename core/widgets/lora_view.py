"""What the LoRA widget shows (book appendix E): trainable parameters and training memory, LoRA beside full
fine-tuning, and where the adapters sit, counted from the real model built on the meta device."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from core.errors import UserError
from core.gpt.classifier import GPTClassifier, classifiers_dir, list_classifiers
from core.gpt.config import validate_config
from core.gpt.finetune import LORA_KIND
from core.gpt.lora import (
    TARGETS,
    check_targets,
    list_lora_runs,
    lora_layers,
    replace_linear_with_lora,
    target_of,
    total_parameters,
)
from core.gpt.model import GPTModel

BYTES_FP32 = 4
ADAMW_STATES = 2  # AdamW keeps two moments (exp_avg, exp_avg_sq) per trainable weight
MAX_LAYERS = 256  # counting builds every block, even on the meta device
MIB = 1024 * 1024
TARGET_LABELS = {
    "query": "Attention: query (W_query)",
    "key": "Attention: key (W_key)",
    "value": "Attention: value (W_value)",
    "attention_output": "Attention: output (out_proj)",
    "feed_forward": "Feed-forward",
    "output_head": "Output head",
}


@dataclass(frozen=True)
class LoRAPlan:
    """Parameter counts of a model fine-tuned with LoRA: `base` weights (frozen), `trainable` adapter weights."""

    base: int
    trainable: int
    layers: list[dict[str, Any]]

    @property
    def share(self) -> float:
        """Trainable parameters as a fraction of the base model's."""
        return self.trainable / self.base


def _meta_model(cfg: dict[str, Any], num_classes: int | None) -> torch.nn.Module:
    cfg = validate_config(cfg)
    if cfg["n_layers"] > MAX_LAYERS:
        raise UserError(f"n_layers must be at most {MAX_LAYERS} here, got {cfg['n_layers']:,}")
    with torch.device("meta"):
        gpt = GPTModel(cfg)
        if num_classes is None:
            return gpt
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise UserError(f"a classifier needs at least 2 classes, got {num_classes!r}")
        return GPTClassifier(gpt, labels=[f"class {i}" for i in range(num_classes)])


def lora_plan(cfg: dict[str, Any], rank: int, alpha: float, targets: Any = TARGETS,
              num_classes: int | None = None) -> LoRAPlan:
    """Counts for `GPTModel(cfg)` (with a `num_classes` head when given, as for the spam classifier)
    adapted with `replace_linear_with_lora(model, rank, alpha, targets=targets)`; the rows give each
    kind of adapted layer: its shape, how many there are, and weights versus adapter parameters."""
    model = _meta_model(cfg, num_classes)
    base = total_parameters(model)
    trainable = replace_linear_with_lora(model, rank, alpha, targets=check_targets(targets))
    rows: dict[tuple[str, int, int], dict[str, Any]] = {}
    for name, layer in lora_layers(model).items():
        kind = target_of(name)
        shape = (kind, layer.in_features, layer.out_features)
        if shape not in rows:
            weights = layer.linear.weight.numel() + (0 if layer.bias is None else layer.bias.numel())
            adapter = layer.lora.A.numel() + layer.lora.B.numel()
            rows[shape] = {"layer": TARGET_LABELS[kind], "shape": f"{layer.in_features} x {layer.out_features}",
                           "layers": 0, "weights per layer": weights, "LoRA per layer": adapter}
        rows[shape]["layers"] += 1
    for row in rows.values():
        row["LoRA in all"] = row["layers"] * row["LoRA per layer"]
        row["LoRA / weights"] = row["LoRA per layer"] / row["weights per layer"]
    return LoRAPlan(base, trainable, list(rows.values()))


def memory_rows(plan: LoRAPlan) -> list[dict[str, Any]]:
    """Training memory in fp32 (4 bytes per number) for LoRA and for full fine-tuning: the weights,
    a gradient per trainable weight and AdamW's two moments per trainable weight (activations not counted)."""
    rows = []
    for method, held, trainable in (("LoRA", plan.base + plan.trainable, plan.trainable),
                                    ("Full fine-tuning", plan.base, plan.base)):
        parts = {"weights": held, "gradients": trainable, "AdamW state": ADAMW_STATES * trainable}
        for part, numbers in parts.items():
            rows.append({"method": method, "part": part, "numbers": numbers, "MB": numbers * BYTES_FP32 / MIB})
    return rows


def memory_totals(plan: LoRAPlan) -> dict[str, float]:
    """MB per method, summed over weights, gradients and AdamW state."""
    totals: dict[str, float] = {}
    for row in memory_rows(plan):
        totals[row["method"]] = totals.get(row["method"], 0.0) + row["MB"]
    return totals


def checkpoint_mb(plan: LoRAPlan) -> dict[str, float]:
    """What a saved run holds in fp32: LoRA saves only its adapters, full fine-tuning every weight."""
    return {"LoRA": plan.trainable * BYTES_FP32 / MIB, "Full fine-tuning": plan.base * BYTES_FP32 / MIB}


# ---------------------------------------------------------------------------------------------
# The learner's fine-tuning runs, LoRA beside full fine-tuning


def _method(settings: dict[str, Any], lora: dict[str, Any] | None) -> str:
    if lora is not None:
        return f"LoRA, rank {lora['rank']}, alpha {lora['alpha']:g}"
    blocks = settings.get("trainable_blocks")
    if blocks == "all":
        return "full: every weight"
    return f"full: last {blocks} block{'s' * (blocks != 1)} + head" if isinstance(blocks, int) else "full"


def _elapsed(history: Any) -> float | None:
    done = [e for e in history if isinstance(e, dict) and e.get("type") == "done"] if isinstance(history, list) else []
    return done[-1].get("elapsed") if done else None


def run_row(run_id: str, created: str, settings: dict[str, Any], history: Any, size_bytes: int,
            lora: dict[str, Any] | None = None) -> dict[str, Any]:
    """One fine-tuning run for the comparison table; `lora` holds an adapter run's rank and alpha."""
    accuracy = settings.get("accuracy")
    test = accuracy.get("test") if isinstance(accuracy, dict) else None
    return {
        "run": run_id,
        "created": created,
        "base": settings.get("base", "?"),
        "method": _method(settings, lora),
        "trainable parameters": settings.get("trainable_parameters"),
        "test accuracy": test if isinstance(test, float) else None,
        "training time (s)": _elapsed(history),
        "checkpoint MB": size_bytes / MIB,
    }


def finetuning_runs(root: Path | None = None) -> list[dict[str, Any]]:
    """Every saved spam classifier under `root` (default `classifiers_dir()`), full and LoRA, newest first."""
    root = root or classifiers_dir()
    rows = [run_row(run.run_id, run.created, {**run.settings, "accuracy": run.results and run.results.accuracy},
                    run.history, run.size_bytes)
            for run in list_classifiers(root)]  # a full classifier's results have their own section
    rows += [run_row(run.path.name, run.meta["created"], run.settings, run.settings.get("history"), run.size_bytes,
                     {"rank": run.rank, "alpha": run.alpha})
             for run in list_lora_runs(root) if run.settings.get("kind") == LORA_KIND]
    return sorted(rows, key=lambda row: row["created"], reverse=True)
