"""Experiments for the journal: records made from what a widget produced, and a recorded generation replayed.

Each `*_record` function turns a widget's result into a `core.journal.experiments.Experiment`; the journal
shows it later as it was, and `replay_generation` draws the same tokens again from the same model, prompt,
settings and seed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from core.app.model_sources import ModelSource, cached_gpt2_weights, load_source
from core.app.predictions import METRICS, Prediction
from core.errors import Unavailable, UserError
from core.gpt.checkpoint import CheckpointError, read_checkpoint, run_path
from core.gpt.classifier import classifiers_dir
from core.gpt.events import eval_kinds
from core.gpt.generate import generate
from core.gpt.tokenizers import decode, encode
from core.journal.experiments import MAX_FIELDS, Experiment, Scalar, cut
from core.paths import runs_dir

RUN_KINDS = ("pretraining", "spam")


def _flat(values: Mapping[str, Any], prefix: str = "") -> dict[str, Scalar]:
    """Plain values of a settings mapping, one level of nesting joined with '_'; lists are left out."""
    out: dict[str, Scalar] = {}
    for name, value in values.items():
        if isinstance(value, Mapping) and not prefix:
            out.update(_flat(value, f"{name}_"))
        elif value is None or isinstance(value, (str, int, float, bool)):
            out[f"{prefix}{name}"] = cut(value, 200) if isinstance(value, str) else value
    return dict(list(out.items())[:MAX_FIELDS])


def generation_record(*, source: ModelSource, run_id: str | None, prompt: str, temperature: float,
                      top_k: int | None, top_p: float | None, tokens: int, use_cache: bool, seed: int,
                      text: str) -> Experiment:
    """A generation: model, prompt, settings, seed and the text it wrote (prompt included)."""
    style = "greedy" if temperature == 0 else f"temperature {temperature:g}"
    return Experiment(
        kind="generation",
        title=f"Generation ({style}, seed {seed})",
        settings={"model": source.kind, "prompt": cut(prompt), "temperature": float(temperature),
                  "top_k": top_k, "top_p": top_p, "tokens": int(tokens), "kv_cache": bool(use_cache)},
        results={"text": cut(text)},
        seed=int(seed),
        run=run_id if source.kind == "checkpoint" else None,
    )


def run_record(kind: str, events: Sequence[Mapping[str, Any]], settings: Mapping[str, Any] | None = None) -> Experiment:
    """A finished (or stopped) training run: its settings and final figures; the run folder keeps the curves."""
    start = next((e for e in events if e.get("type") == "start"), {})
    done = next((e for e in events if e.get("type") == "done"), {})
    evals = [e for e in events if e.get("type") in eval_kinds()]
    results: dict[str, Scalar] = {"status": done.get("reason"), "steps": done.get("step"),
                                  "tokens_seen": done.get("tokens_seen")}
    if done.get("elapsed") is not None:
        results["seconds"] = round(float(done["elapsed"]), 1)
    if evals:
        results["train_loss"] = round(float(evals[-1]["train_loss"]), 4)
        results["val_loss"] = round(float(evals[-1]["val_loss"]), 4)
        for split in ("train", "val"):
            if f"{split}_accuracy" in evals[-1]:
                results[f"{split}_accuracy"] = round(float(evals[-1][f"{split}_accuracy"]), 4)
    run_id = start.get("run_id") or (Path(done["checkpoint"]).name if done.get("checkpoint") else None)
    accuracy = (settings or {}).get("accuracy")
    if isinstance(accuracy, Mapping) and isinstance(accuracy.get("test"), (int, float)):
        results["test_accuracy"] = round(float(accuracy["test"]), 4)
    flat = {k: v for k, v in _flat(settings or {}).items() if not k.startswith("accuracy_")}
    seed = flat.pop("seed", None)
    return Experiment(kind=kind, title=f"run {run_id}" if run_id else "an unsaved run", settings=flat,
                      results={k: v for k, v in results.items() if v is not None},
                      seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None, run=run_id)


def checkpoint_record(kind: str, path: Path | str) -> Experiment:
    """`run_record` for a saved run folder."""
    checkpoint = read_checkpoint(path)
    history = [{"type": "start", "run_id": checkpoint.run_id}, *checkpoint.history]
    if not any(e.get("type") == "done" for e in history):
        history.append({"type": "done", "reason": checkpoint.status, **checkpoint.progress})
    return run_record(kind, history, {**checkpoint.settings, "preset": checkpoint.settings.get("preset")})


def view_record(kind: str, title: str, settings: Mapping[str, Any], results: Mapping[str, Any],
                seed: int | None = None) -> Experiment:
    """A tokenizer, attention or parameters view: what was shown and the figures it gave."""
    return Experiment(kind=kind, title=title, settings=_flat(settings), results=_flat(results), seed=seed)


def with_prediction(record: Experiment, prediction: Prediction | None) -> Experiment:
    """The record with the learner's guess beside the result (`predicted_<metric>`, `prediction`)."""
    if prediction is None:
        return record
    extra: dict[str, Scalar] = {}
    if prediction.value is not None:
        extra[f"predicted_{prediction.metric}"] = round(prediction.value, 4)
    if prediction.sentence:
        extra["prediction"] = cut(prediction.sentence, 300)
    return replace(record, results={**record.results, **extra})


def prediction_against_result(record: Experiment) -> str:
    """'Predicted 5.2 for the final validation loss, reached 5.63 (off by 0.43)', or '' without a guess."""
    parts = []
    for metric, name in METRICS.items():
        guess, reached = record.results.get(f"predicted_{metric}"), record.results.get(metric)
        if isinstance(guess, (int, float)):
            parts.append(f"Predicted {guess:g} for the {name}" + (
                f", reached {reached:.4g} (off by {abs(guess - reached):.3g})" if isinstance(reached, (int, float))
                else ""))
    if sentence := record.results.get("prediction"):
        parts.append(f"Predicted in words: {sentence}")
    return ". ".join(parts) + ("." if parts else "")


# ---------------------------------------------------------------------------------------------
# Runs behind records, and generations replayed


def run_folder(record: Experiment, root: Path | None = None) -> Path | None:
    """The run folder a training record (or a generation with your model) names, if it still exists."""
    if not record.run:
        return None
    base = root or runs_dir()
    try:
        folder = run_path(record.run, classifiers_dir() if record.kind == "spam" and root is None else base)
    except CheckpointError:
        return None
    return folder if (folder / "checkpoint.json").is_file() else None


def run_history(record: Experiment, root: Path | None = None) -> list[dict[str, Any]] | None:
    """The saved training history of the record's run; None when the run was deleted or is damaged."""
    folder = run_folder(record, root)
    if folder is None:
        return None
    try:
        return read_checkpoint(folder).history
    except CheckpointError:
        return None


def replay_source(record: Experiment, root: Path | None = None) -> ModelSource:
    """The model a recorded generation used; `Unavailable` saying why it is not on this machine now."""
    model = record.settings.get("model")
    if model == "random":
        return ModelSource("random", "random weights", "")
    if model == "gpt2":
        weights = cached_gpt2_weights()
        if weights is None:
            raise Unavailable("it used GPT-2 small, whose weights are not on this machine (download them on the "
                              "Sampling page)")
        return ModelSource("gpt2", "GPT-2 small", "", weights)
    if model == "checkpoint":
        folder = run_folder(record, root)
        if folder is None:
            raise Unavailable(f"it used your model from run {record.run}, which was deleted; the text recorded "
                              "then is kept")
        return ModelSource("checkpoint", f"run {record.run}", "", folder)
    raise UserError(f"the record does not say which model wrote it (model: {model!r})")


def replay_generation(record: Experiment, model: torch.nn.Module) -> str:
    """The text the recorded generation writes again with `model`: the same one when seed and settings match."""
    s = record.settings
    try:
        ids = encode(str(s["prompt"]), allow_special=True)
        out = generate(model, torch.tensor([ids]), int(s["tokens"]), temperature=float(s["temperature"]),
                       top_k=s.get("top_k"), top_p=s.get("top_p"), use_cache=bool(s.get("kv_cache", True)),
                       seed=record.seed)
    except (KeyError, TypeError, ValueError) as err:
        if isinstance(err, UserError):
            raise
        raise UserError(f"the recorded settings cannot be replayed ({err})") from None
    return cut(str(s["prompt"]) + decode(out[0, len(ids):].tolist()))


def load_replay_model(record: Experiment, root: Path | None = None) -> torch.nn.Module:
    return load_source(replay_source(record, root))
