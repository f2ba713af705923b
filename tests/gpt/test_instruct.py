"""Instruction fine-tuning as a task of the one training loop: the masked loss, a tiny run whose
validation loss falls, saved responses, stop and resume."""

from __future__ import annotations

import threading

import pytest
import torch
import torch.nn.functional as F

from core.errors import UserError
from core.gpt import instruct
from core.gpt.checkpoint import load_model
from core.gpt.events import DoneEvent, EvalEvent, StartEvent, StepEvent
from core.gpt.instruction_data import custom_collate_fn
from core.gpt.model import GPTModel
from core.gpt.train import TrainSettings

TINY = {"emb_dim": 32, "n_heads": 2, "n_layers": 1, "context_length": 64, "drop_rate": 0.0, "qkv_bias": False,
        "tie_weights": False}
COLOURS = ["red", "blue", "green", "yellow", "black", "white", "purple", "orange", "brown", "grey"]


def tiny_records(n: int = 20) -> list[dict[str, str]]:
    """Records with a learnable rule: the answer repeats the input's colour."""
    return [{"instruction": "Repeat the colour.", "input": COLOURS[i % 10],
             "output": f"The colour is {COLOURS[i % 10]}."} for i in range(n)]


def tiny_recipe(epochs: int = 3, **changes) -> instruct.InstructRecipe:
    settings = TrainSettings(epochs=epochs, lr=5e-3, eval_freq=4, eval_iter=1, bf16=False)
    return instruct.InstructRecipe(settings, batch_size=4, model=TINY, max_new_tokens=8, **changes)


def test_loss_ignores_minus_100_exactly():
    """The fused loss on counted positions equals the book's cross_entropy with ignore_index -100."""
    torch.manual_seed(0)
    model = GPTModel({"vocab_size": 60, "context_length": 8, "emb_dim": 8, "n_heads": 2, "n_layers": 1})
    inputs, targets = custom_collate_fn([[1, 2, 3, 4], [5, 6]], pad_token_id=59)
    logits = model(inputs)
    kept = targets != -100
    expected = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-100)
    assert expected.item() == pytest.approx(F.cross_entropy(logits[kept], targets[kept]).item())
    assert instruct.calc_loss_batch(inputs, targets, model).item() == pytest.approx(expected.item(), rel=1e-6)
    with pytest.raises(UserError, match="every target"):
        instruct.calc_loss_batch(inputs, torch.full_like(targets, -100), model)


@pytest.mark.slow  # a few steps with GPT-2's 50,257-token head: seconds on a busy 2-core machine
def test_tiny_fine_tune_lowers_validation_loss_and_saves_responses(tmp_path, gpt2_encoding):
    events = list(instruct.instruct_run(tiny_records(), recipe=tiny_recipe(epochs=2), seed=1, runs_root=tmp_path))
    start = events[0]
    assert isinstance(start, StartEvent) and start.steps_per_epoch == 17 // 4
    evals = [e for e in events if isinstance(e, EvalEvent)]
    assert evals[-1].val_loss < evals[0].val_loss - 0.5
    responses = [e for e in events if isinstance(e, instruct.ResponsesEvent)]
    assert responses[-1].done == responses[-1].total == 2
    done = events[-1]
    assert isinstance(done, DoneEvent) and done.reason == "finished" and done.checkpoint
    saved = instruct.read_responses(done.checkpoint)
    assert [r["instruction"] for r in saved] == ["Repeat the colour."] * 2
    assert all(isinstance(r["model_response"], str) for r in saved)
    model, checkpoint = load_model(done.checkpoint)
    assert checkpoint.settings["kind"] == "instruct" and checkpoint.settings["split_sizes"] == [17, 1, 2]
    assert instruct.list_instruct_runs(tmp_path)[0].run_id == checkpoint.run_id


@pytest.mark.slow  # a few steps with GPT-2's 50,257-token head: seconds on a busy 2-core machine
def test_stop_then_resume_continues_the_count(tmp_path, gpt2_encoding):
    stop = threading.Event()
    first = []
    for event in instruct.instruct_run(tiny_records(), recipe=tiny_recipe(epochs=2), stop=stop, runs_root=tmp_path):
        first.append(event)
        if isinstance(event, StepEvent) and event.step == 2:
            stop.set()
    assert first[-1].reason == "stopped"
    assert not any(isinstance(e, instruct.ResponsesEvent) for e in first)
    assert instruct.read_responses(first[-1].checkpoint) is None
    resumed = list(instruct.instruct_run(tiny_records(), recipe=tiny_recipe(epochs=1), runs_root=tmp_path,
                                         resume_from=first[-1].checkpoint))
    steps = [e.step for e in resumed if isinstance(e, StepEvent)]
    assert steps[0] == 3 and resumed[0].resumed_from == first[-1].checkpoint.rsplit("/", 1)[1]
    assert resumed[-1].reason == "finished"


def test_too_few_records_and_wrong_vocabulary(tmp_path):
    with pytest.raises(UserError, match="too few"):
        list(instruct.instruct_run(tiny_records(5), recipe=tiny_recipe(), runs_root=tmp_path))
    small = GPTModel({"vocab_size": 100, "context_length": 16, "emb_dim": 8, "n_heads": 2, "n_layers": 1})
    with pytest.raises(UserError, match="vocabulary"):
        list(instruct.instruct_run(tiny_records(), small, tiny_recipe(), runs_root=tmp_path))


def test_recipe_checks_its_settings():
    with pytest.raises(UserError):
        instruct.InstructRecipe(instruct.BOOK_RECIPE.settings, batch_size=0)
    with pytest.raises(UserError):
        instruct.InstructRecipe(instruct.BOOK_RECIPE.settings, lora=(8,))
    assert (instruct.BOOK_RECIPE.settings.lr, instruct.BOOK_RECIPE.settings.epochs) == (5e-5, 2)
    assert instruct.BOOK_RECIPE.batch_size == 8 and instruct.BOOK_RECIPE.allowed_max_length == 1024


@pytest.mark.slow  # a few steps with GPT-2's 50,257-token head: seconds on a busy 2-core machine
@pytest.mark.skipif(not instruct.lora_available(), reason="LoRA (core.gpt.lora) is not in this version")
def test_lora_run_trains_adapters_and_saves_a_plain_model(tmp_path, gpt2_encoding):
    events = list(instruct.instruct_run(tiny_records(), recipe=tiny_recipe(epochs=1, lora=(4, 8.0)),
                                        runs_root=tmp_path))
    model, checkpoint = load_model(events[-1].checkpoint)
    assert checkpoint.settings["lora"] == [4, 8.0]
    assert checkpoint.settings["trainable_parameters"] < sum(p.numel() for p in model.parameters())
