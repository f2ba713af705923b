"""Checkpoints that must be refused at load, in words and quickly: hostile metadata, absurd configs,
weight files that do not fit their config, values that would fail later, pipes and links, and the
reading of format-version-1 runs."""

from __future__ import annotations

import json
import os
import struct
from datetime import UTC, datetime

import pytest
import torch
from safetensors.torch import save_file
from v1_runs import v1_classifier_settings, write_v1_run

import core.gpt.checkpoint as ckpt
from core.errors import UserError
from core.gpt.checkpoint import (
    CheckpointError,
    Results,
    drop_optimizer,
    list_runs,
    load_model,
    load_optimizer,
    model_tensors,
    read_checkpoint,
    run_path,
    save_checkpoint,
)
from core.gpt.classifier import GPTClassifier, list_classifiers, load_classifier, save_classifier
from core.gpt.config import validate_config
from core.gpt.model import GPTModel

CFG = {"vocab_size": 300, "context_length": 16, "emb_dim": 32, "n_heads": 4, "n_layers": 2, "drop_rate": 0.0}
RUN = "20250102-153000-a1b2c3"


def save(folder, model=None, optimizer=None, **kw):
    return save_checkpoint(folder, model or GPTModel(CFG), status=kw.pop("status", "finished"), history=[],
                           settings={"preset": "custom"}, progress={"step": 3, "epoch": 1, "tokens_seen": 96},
                           optimizer=optimizer, **kw)


def edit_meta(folder, change):
    path = folder / "checkpoint.json"
    meta = json.loads(path.read_text())
    change(meta)
    path.write_text(json.dumps(meta))


def rewrite_weights(folder, tensors):
    """Replace the weights and make checkpoint.json describe the new file (as a hostile file would)."""
    save_file(tensors, str(folder / "model.safetensors"))
    edit_meta(folder, lambda m: m.update(weights=ckpt._file_record(folder / "model.safetensors")))


# ---------------------------------------------------------------------------------------------
# A damaged checkpoint.json is a CheckpointError, never another exception


@pytest.mark.parametrize("text", [
    "[" * 100_000 + "]" * 100_000,
    '{"format": "llm-journal-checkpoint", "version": ' + "9" * 100_000 + "}",
])
def test_hostile_json_is_a_checkpoint_error(tmp_path, text):
    folder = tmp_path / RUN
    save(folder)
    (folder / "checkpoint.json").write_text(text)
    with pytest.raises(CheckpointError, match="not valid JSON"):
        read_checkpoint(folder)
    assert list_runs(tmp_path) == []


@pytest.mark.parametrize("change", [
    lambda m: m["progress"].update(step="abc"),
    lambda m: m["progress"].update(step=float("nan")),
    lambda m: m["progress"].update(tokens_seen=-5),
    lambda m: m.update(history=[1, "two", None]),
    lambda m: m.update(created="not a date"),
    lambda m: m.update(version=True),
    lambda m: m["settings"].update(preset=["x"]),
])
def test_invalid_sections_are_refused(tmp_path, change):
    folder = tmp_path / RUN
    save(folder)
    edit_meta(folder, change)
    with pytest.raises(CheckpointError):
        read_checkpoint(folder)


def test_a_far_future_creation_time_is_clamped_to_now(tmp_path):
    old, future = tmp_path / "20240101-000000-aaaaaa", tmp_path / "20240102-000000-bbbbbb"
    save(old)
    save(future)
    edit_meta(future, lambda m: m.update(created="2999-01-01T00:00:00+00:00"))
    checkpoint = read_checkpoint(future)
    assert datetime.fromisoformat(checkpoint.created) <= datetime.now(UTC)
    stamp = (future / "checkpoint.json").stat().st_mtime
    save(newest := tmp_path / "20240103-000000-cccccc")
    os.utime(newest / "checkpoint.json", (stamp + 1, stamp + 1))
    assert list_runs(tmp_path)[0].run_id == newest.name


@pytest.mark.parametrize("name", [RUN + "\n", "２０２５０１０２-153000-a1b2c3", "٢٠٢٥٠١٠٢-153000-a1b2c3"])
def test_run_names_with_a_newline_or_non_ascii_digits_are_refused(tmp_path, name):
    with pytest.raises(CheckpointError, match="not a run name"):
        run_path(name, tmp_path)


# ---------------------------------------------------------------------------------------------
# Absurd configs: refused before anything is built


@pytest.mark.timeout(10)
@pytest.mark.parametrize("change", [{"emb_dim": 10**9}, {"vocab_size": 10**12}, {"n_layers": 10**6},
                                    {"context_length": 10**30}])
def test_absurd_configs_are_refused_in_words(change):
    with pytest.raises(UserError, match="at most"):
        validate_config({**CFG, **change})
    with pytest.raises(UserError, match="at most"):
        GPTModel({**CFG, **change})


@pytest.mark.timeout(10)
def test_a_config_bigger_than_its_weights_is_refused_before_allocating(tmp_path, monkeypatch):
    folder = tmp_path / RUN
    save(folder)
    edit_meta(folder, lambda m: m["config"].update(n_layers=128, emb_dim=8192, n_heads=8))
    monkeypatch.setattr(ckpt, "materialize", lambda *a, **k: pytest.fail("allocated"))
    with pytest.raises(CheckpointError, match="do not match its model config"):
        load_model(folder)


def test_a_file_over_the_memory_budget_is_refused(tmp_path):
    save(folder := tmp_path / RUN)
    with pytest.raises(CheckpointError, match="memory"):
        load_model(folder, memory_budget=1000)


@pytest.mark.timeout(10)
def test_a_huge_sparse_weights_file_is_refused_without_hashing(tmp_path, monkeypatch):
    save(folder := tmp_path / RUN)
    weights = folder / "model.safetensors"
    with open(weights, "r+b") as f:
        f.truncate(8 * 2**30)  # sparse: takes no disk space
    edit_meta(folder, lambda m: m["weights"].update(bytes=8 * 2**30))
    monkeypatch.setattr(ckpt, "_sha256", lambda path: pytest.fail("hashed"))
    with pytest.raises(CheckpointError, match="memory|safetensors"):
        load_model(folder)


def test_a_header_that_lies_about_its_data_is_refused(tmp_path):
    save(folder := tmp_path / RUN)
    weights = folder / "model.safetensors"
    data = weights.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    weights.write_bytes(data + b"\0" * 64)  # trailing bytes no tensor accounts for
    edit_meta(folder, lambda m: m.update(weights=ckpt._file_record(weights)))
    with pytest.raises(CheckpointError, match="do not fill the file"):
        load_model(folder)


# ---------------------------------------------------------------------------------------------
# Values that load but would fail later


def test_nan_weights_are_refused(tmp_path):
    model = GPTModel(CFG)
    save(folder := tmp_path / RUN, model)
    tensors = {k: v.clone() for k, v in model_tensors(model).items()}
    tensors["final_norm.scale"][0] = float("nan")
    rewrite_weights(folder, tensors)
    with pytest.raises(CheckpointError, match="NaN"):
        load_model(folder)


@pytest.mark.parametrize("dtype", [torch.int64, torch.bool, torch.float64])
def test_weights_of_the_wrong_dtype_are_refused_not_cast(tmp_path, dtype):
    model = GPTModel(CFG)
    save(folder := tmp_path / RUN, model)
    tensors = {k: v.clone() for k, v in model_tensors(model).items()}
    tensors["tok_emb.weight"] = tensors["tok_emb.weight"].to(dtype)
    rewrite_weights(folder, tensors)
    with pytest.raises(CheckpointError, match="wrong type tok_emb.weight"):
        load_model(folder)


def trained(model):
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.randint(0, 300, (2, 8))).sum().backward()
    optimizer.step()
    return optimizer


@pytest.mark.parametrize("change", [
    lambda t: t.update({"tok_emb.weight.step": torch.ones(5, 5)}),
    lambda t: t.update({"tok_emb.weight.exp_avg_sq": -t["tok_emb.weight.exp_avg_sq"] - 1}),
    lambda t: t.update({"tok_emb.weight.exp_avg": t["tok_emb.weight.exp_avg"].double()}),
    lambda t: t.pop("tok_emb.weight.exp_avg"),
    lambda t: t.update({"tok_emb.weight.momentum": torch.zeros(1)}),
])
def test_bad_optimizer_state_is_refused_at_load(tmp_path, change):
    model = GPTModel(CFG)
    save(folder := tmp_path / RUN, model, trained(model))
    path = folder / "optimizer.safetensors"
    from safetensors.torch import load_file

    tensors = load_file(str(path))
    change(tensors)
    save_file(tensors, str(path))
    edit_meta(folder, lambda m: m.update(optimizer=ckpt._file_record(path)))
    loaded, checkpoint = load_model(folder)
    optimizer = torch.optim.AdamW(loaded.parameters())
    with pytest.raises(CheckpointError):
        load_optimizer(checkpoint, loaded, optimizer)


def small_classifier():
    return GPTClassifier(GPTModel(CFG), pooling="mean", max_length=12)


@pytest.mark.parametrize("change", [{"pad_id": 10**30}, {"pad_id": -1}, {"max_length": 10**6}, {"labels": ["a"]},
                                    {"compact_vocab": "yes"}])
def test_a_classifier_head_that_would_fail_later_is_refused(tmp_path, change):
    save_classifier(small_classifier(), folder := tmp_path / RUN)
    edit_meta(folder, lambda m: m["head"].update(change))
    with pytest.raises(CheckpointError, match="invalid classifier description"):
        load_classifier(folder)


# ---------------------------------------------------------------------------------------------
# Pipes, devices and links


@pytest.mark.timeout(10)
@pytest.mark.parametrize("name", ["model.safetensors", "checkpoint.json"])
def test_a_fifo_is_refused_without_blocking(tmp_path, name):
    save(folder := tmp_path / RUN)
    (folder / name).unlink()
    os.mkfifo(folder / name)
    with pytest.raises(CheckpointError, match="not a plain file"):
        load_model(folder)


@pytest.mark.parametrize("name", ["model.safetensors", "checkpoint.json"])
def test_a_link_out_of_the_run_folder_is_refused(tmp_path, name):
    save(folder := tmp_path / RUN)
    outside = tmp_path / "outside"
    (folder / name).rename(outside)
    (folder / name).symlink_to(outside)
    with pytest.raises(CheckpointError, match="outside its run folder"):
        load_model(folder)


def test_a_link_inside_the_run_folder_is_fine(tmp_path):
    save(folder := tmp_path / RUN)
    (folder / "model.safetensors").rename(folder / "weights-copy")
    (folder / "model.safetensors").symlink_to(folder / "weights-copy")
    load_model(folder)


# ---------------------------------------------------------------------------------------------
# Format version 1 (today's runs on disk) is still read


def test_a_version_1_language_model_run_loads(tmp_path):
    model = GPTModel(CFG)
    optimizer = trained(model)
    folder = write_v1_run(tmp_path / RUN, model_tensors(model), model.cfg, settings={"preset": "tiny", "lr": 1e-3},
                          status="stopped", progress={"step": 7, "epoch": 1, "tokens_seen": 224},
                          history=[{"type": "step", "step": 1}], optimizer=ckpt.optimizer_tensors(model, optimizer))
    loaded, checkpoint = load_model(folder)
    assert checkpoint.meta["version"] == 1 and checkpoint.head is None and checkpoint.results is None
    assert checkpoint.preset == "tiny" and checkpoint.progress["step"] == 7 and checkpoint.status == "stopped"
    assert torch.equal(loaded.tok_emb.weight, model.tok_emb.weight)
    load_optimizer(checkpoint, loaded, torch.optim.AdamW(loaded.parameters()))
    slim = drop_optimizer(checkpoint)
    assert not (folder / "optimizer.safetensors").exists() and not slim.has_optimizer
    again = read_checkpoint(folder)
    assert again.meta["version"] == 2 and again.settings == checkpoint.settings and not again.has_optimizer


def test_a_version_1_classifier_run_loads_with_typed_head_and_results(tmp_path):
    classifier = small_classifier()
    results = {"accuracy": {"train": 0.9, "val": 0.8, "test": 0.85}, "confusion": {"test": [[5, 1], [2, 4]]},
               "misclassified_lines": {"test": [3, 9, 12]}}
    settings = v1_classifier_settings(classifier, base="scratch", lr=1e-3, **results)
    folder = write_v1_run(tmp_path / RUN, model_tensors(classifier), classifier.cfg, settings=settings)
    loaded, checkpoint = load_classifier(folder)
    assert checkpoint.head.labels == ("ham", "spam") and checkpoint.head.pooling == "mean"
    assert checkpoint.head.max_length == 12 and checkpoint.head.compact_vocab is False
    assert checkpoint.results == Results(**results)
    assert checkpoint.settings == {"base": "scratch", "lr": 1e-3}  # the training settings alone
    assert [run.run_id for run in list_classifiers(tmp_path)] == [RUN]
    text = torch.randint(0, 300, (1, 8))
    assert torch.equal(loaded(text), classifier.eval()(text))


def test_version_2_keeps_settings_head_and_results_apart(tmp_path):
    results = {"accuracy": {"test": 0.5}, "confusion": {"test": [[1, 1], [1, 1]]}, "misclassified_lines": {"test": []}}
    save_classifier(small_classifier(), folder := tmp_path / RUN, settings={"base": "scratch", **results})
    meta = json.loads((folder / "checkpoint.json").read_text())
    assert meta["version"] == 2 and meta["settings"] == {"base": "scratch"}
    assert meta["head"]["pad_id"] == 50256 and meta["results"] == results
    assert read_checkpoint(folder).results.accuracy == {"test": 0.5}
