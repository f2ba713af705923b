"""The loss-mask inspector's figures: roles of every token, counted targets, losses with and without masks."""

from __future__ import annotations

import math

import pytest
import torch

from core.gpt.instruct import calc_loss_batch
from core.gpt.instruction_data import Example, InstructionDataset
from core.gpt.model import GPTModel
from core.widgets import loss_mask_view as lmv

EXAMPLES = (Example((10, 11, 12, 13, 14), 2, 1), Example((20, 21, 22), 2, 0))


def test_roles_of_inputs_and_targets():
    batch = lmv.mask_batch(EXAMPLES)
    roles = [[batch.target_role(r, p) for p in range(5)] for r in range(2)]
    assert roles == [
        [lmv.INSTRUCTION, lmv.INPUT, lmv.RESPONSE, lmv.RESPONSE, lmv.END],
        [lmv.INSTRUCTION, lmv.RESPONSE, lmv.END, lmv.PADDING, lmv.PADDING],
    ]
    assert [batch.input_role(1, p) for p in range(5)] == [lmv.INSTRUCTION, lmv.INSTRUCTION, lmv.RESPONSE,
                                                          lmv.PADDING, lmv.PADDING]
    assert batch.counted == 8


def test_instruction_mask_roles_and_counts():
    batch = lmv.mask_batch(EXAMPLES, mask_instruction=True)
    assert [batch.target_role(0, p) for p in range(5)] == [lmv.MASKED, lmv.MASKED, lmv.RESPONSE, lmv.RESPONSE, lmv.END]
    assert batch.counted == 5
    rows = lmv.padding_rows(batch)
    assert [(r["tokens"], r["padding"], r["targets counted"]) for r in rows] == [(5, 0, 3), (3, 2, 2)]


def test_token_rows_label_ignored_targets(gpt2_encoding):
    rows = lmv.token_rows(lmv.mask_batch(EXAMPLES))
    assert len(rows) == 10
    last = rows[-1]
    assert last["target"] == "-100" and not last["counted"] and last["input"] == "<|endoftext|>"
    assert rows[4]["target"] == "<|endoftext|>" and rows[4]["counted"]
    assert lmv.token_label(220) == "␣"


def test_mask_losses_match_the_plain_loss(gpt2_encoding):
    torch.manual_seed(0)
    model = GPTModel({"vocab_size": 50257, "context_length": 64, "emb_dim": 16, "n_heads": 2, "n_layers": 1})
    records = [{"instruction": "Name a colour.", "input": "", "output": "Blue."},
               {"instruction": "Add the numbers.", "input": "2 and 3", "output": "2 plus 3 is 5, so the answer is 5."}]
    examples = InstructionDataset(records).examples
    losses = lmv.mask_losses(model, examples)
    batch = lmv.mask_batch(examples)
    assert losses.padding_mask == pytest.approx(calc_loss_batch(batch.inputs, batch.targets, model).item(), rel=1e-5)
    assert losses.no_mask_tokens == batch.targets.numel() > losses.padding_mask_tokens > losses.instruction_mask_tokens
    assert losses.padding_mask_tokens == sum(len(e.ids) for e in examples)
    assert losses.instruction_mask_tokens == sum(e.response_tokens + 1 for e in examples)  # and each end-of-text
    assert len({losses.no_mask, losses.padding_mask, losses.instruction_mask}) == 3
    assert all(math.isfinite(x) for x in (losses.no_mask, losses.padding_mask, losses.instruction_mask))
