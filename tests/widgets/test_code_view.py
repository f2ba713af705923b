"""The code each widget step shows is the code its widget runs, read from the module, with a book reference."""

from __future__ import annotations

import inspect

import pytest

import core.gpt.model
import core.gpt.params
import ui.attention
import ui.instruction
import ui.logit_lens
import ui.next_token_game
import ui.parameters
import ui.pretraining
import ui.sampling
import ui.spam
import ui.tokenizer
from core.gpt import generate as generate_module
from core.gpt import instruct
from core.paths import PROJECT_ROOT
from core.widgets import lora_view, loss_mask_view
from core.widgets import token_view as tv
from core.widgets.code_view import LISTING, SECTION, STEPS, code_for


def used_by_pretraining(name: str):
    """What the Pretraining page's `pretrain_run` calls by `name`."""
    return inspect.unwrap(ui.pretraining.pretrain_run).__globals__[name]


def used_by_finetuning(name: str):
    """What the Spam page's `finetune_run` calls by `name`."""
    return inspect.unwrap(ui.spam.finetune_run).__globals__[name]


# What each widget actually calls for a step, found from the widget's own module (a moved or renamed
# function breaks this test instead of leaving the page showing stale code).
USED_BY_WIDGETS = {
    "simple_tokenizer": lambda: tv.SimpleTokenizerV1,
    "simple_tokenizer_v2": lambda: tv.SimpleTokenizerV2,
    "bpe": lambda: ui.tokenizer.train_bpe,
    "sliding_window": lambda: tv.GPTDataset,
    "embeddings": lambda: ui.tokenizer.embed_tokens,
    "attention_steps": lambda: ui.attention.attention_steps,
    "multi_head_attention": lambda: core.gpt.model.MultiHeadAttention,
    "transformer_block": lambda: core.gpt.model.TransformerBlock,
    "gpt_model": lambda: core.gpt.params.GPTModel,
    "count_parameters": lambda: ui.parameters.count_parameters,
    "calc_loss_batch": lambda: used_by_pretraining("calc_loss_batch"),
    "calc_loss_loader": lambda: used_by_pretraining("calc_loss_loader"),
    "train_loop": lambda: used_by_pretraining("train"),
    "sampling_stages": lambda: generate_module.next_token_distribution.__globals__["sampling_stages"],
    "generate": lambda: ui.sampling.generate,
    "gpt_classifier": lambda: ui.spam.GPTClassifier,
    "loss_and_accuracy": lambda: used_by_finetuning("loss_and_accuracy"),
    "finetune": lambda: used_by_finetuning("finetune"),
    "classify": lambda: ui.spam.classify,
    "token_influence": lambda: ui.spam.token_influence,
    "format_input": lambda: ui.instruction.format_input,
    "custom_collate_fn": lambda: loss_mask_view.custom_collate_fn,
    "instruction_loss_batch": lambda: loss_mask_view.calc_loss_batch,
    "instruction_task": lambda: inspect.unwrap(instruct.instruct_run).__globals__["instruction_task"],
    "generate_response": lambda: instruct.answer_test_set.__globals__["generate_response"],
    "replace_linear_with_lora": lambda: lora_view.replace_linear_with_lora,
    "linear_with_lora": lambda: lora_view.replace_linear_with_lora.__globals__["LinearWithLoRA"],
    "lora_layer": lambda: lora_view.replace_linear_with_lora.__globals__["LoRALayer"],
    "logit_lens": lambda: ui.logit_lens.ll.logit_lens,
    "lens_logits": lambda: ui.logit_lens.ll.logit_lens.__globals__["lens_logits"],
    "score_round": lambda: ui.next_token_game.game.score_round,
    "human_logprob": lambda: ui.next_token_game.game.score_round.__globals__["human_logprob"],
}


def test_the_instruction_task_trains_with_the_loss_shown():
    assert instruct.instruction_task.__globals__["calc_loss_batch"] is STEPS["instruction_loss_batch"].obj


def test_every_step_is_checked_against_its_widget():
    assert set(USED_BY_WIDGETS) == set(STEPS)


@pytest.mark.parametrize("name", sorted(STEPS))
def test_the_registered_object_is_the_one_the_widget_runs(name):
    assert STEPS[name].obj is USED_BY_WIDGETS[name]()


@pytest.mark.parametrize("name", sorted(STEPS))
def test_shown_source_is_the_modules_source(name):
    step = STEPS[name]
    code = code_for(name)
    assert code.source == inspect.getsource(step.obj)
    assert code.name == inspect.unwrap(step.obj).__qualname__
    assert code.module_path == inspect.unwrap(step.obj).__module__.replace(".", "/") + ".py"
    assert code.source.lstrip().startswith(("def ", "class ", "@"))
    path = PROJECT_ROOT / code.module_path
    assert path.is_file() and code.module_path.startswith("core/")
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    assert "".join(lines[code.first_line - 1 : code.first_line - 1 + len(code.source.splitlines())]) == code.source


@pytest.mark.parametrize("name", sorted(STEPS))
def test_book_references_are_well_formed(name):
    step = STEPS[name]
    assert SECTION.match(step.section), step.section
    if step.listing is not None:
        assert LISTING.match(step.listing), step.listing
        assert step.section.split(".")[0] == step.listing.split(".")[0], "a listing lies in its section's chapter"
    ref = code_for(name).book_ref
    assert ref.startswith(f"book section {step.section}") and (step.listing is None or ref.endswith(step.listing))


def test_the_books_multi_head_attention_is_listing_3_5():
    code = code_for("multi_head_attention")
    assert (code.module_path, code.name, code.book_ref) == (
        "core/gpt/attention.py", "MultiHeadAttention", "book section 3.6.2, listing 3.5")
    assert code.source.startswith("class MultiHeadAttention(nn.Module):")
