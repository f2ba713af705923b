"""What the loss-mask inspector shows: every input and target token of a batch with its role,
how many targets the loss sees, and the model's loss with and without each mask (section 7.3).

Roles of a target token (what the model is asked to predict at that position): part of the
instruction or the input (or, under exercise 7.2's mask, ignored as -100), the response, the one
kept end-of-text (so the model learns to stop), or padding ignored as -100.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from core.errors import UserError
from core.gpt.generate import inference
from core.gpt.instruct import calc_loss_batch
from core.gpt.instruction_data import IGNORE_INDEX, PAD_TOKEN_ID, Example, custom_collate_fn
from core.widgets.token_view import bytes_label

INSTRUCTION, INPUT, RESPONSE, END, PADDING, MASKED = (
    "instruction", "input", "response", "end of text (kept)", "padding (ignored, -100)",
    "masked prompt (ignored, -100)",
)
ROLES = (INSTRUCTION, INPUT, RESPONSE, END, PADDING, MASKED)
ROLE_COLOURS = {INSTRUCTION: "#4c78a8", INPUT: "#72b7b2", RESPONSE: "#54a24b", END: "#f58518",
                PADDING: "#bab0ac", MASKED: "#e45756"}


def _role(example: Example, position: int) -> str:
    """The part of the example that token `position` of its padded sequence belongs to."""
    if position < example.instruction_tokens:
        return INSTRUCTION
    if position < example.prompt_tokens:
        return INPUT
    if position < len(example.ids):
        return RESPONSE
    return END if position == len(example.ids) else PADDING


def token_label(token_id: int) -> str:
    """A GPT-2 token as visible text (spaces as ␣, line breaks as ↵)."""
    if token_id == IGNORE_INDEX:
        return "-100"
    if token_id == PAD_TOKEN_ID:
        return "<|endoftext|>"
    from core.gpt.tokenizers import gpt2_tokenizer

    return bytes_label(gpt2_tokenizer().decode_single_token_bytes(token_id))


@dataclass(frozen=True)
class MaskedBatch:
    """A collated batch of examples, with each token's role."""

    examples: tuple[Example, ...]
    inputs: torch.Tensor
    targets: torch.Tensor
    mask_instruction: bool

    @property
    def counted(self) -> int:
        """Target tokens the loss sees."""
        return int((self.targets != IGNORE_INDEX).sum())

    def counted_in_row(self, row: int) -> int:
        return int((self.targets[row] != IGNORE_INDEX).sum())

    def input_role(self, row: int, position: int) -> str:
        role = _role(self.examples[row], position)
        return PADDING if role == END else role  # as an input, the end-of-text after the text is padding

    def target_role(self, row: int, position: int) -> str:
        role = _role(self.examples[row], position + 1)
        if self.targets[row, position] == IGNORE_INDEX and role in (INSTRUCTION, INPUT):
            return MASKED
        return role


def mask_batch(examples: Sequence[Example], mask_instruction: bool = False,
               allowed_max_length: int | None = None) -> MaskedBatch:
    """Collate `examples` as training does and keep what each token is."""
    inputs, targets = custom_collate_fn(list(examples), allowed_max_length=allowed_max_length,
                                        mask_instruction=mask_instruction)
    return MaskedBatch(tuple(examples), inputs, targets, mask_instruction)


def token_rows(batch: MaskedBatch) -> list[dict[str, object]]:
    """One row per row and position: input and target token, their roles, and whether the loss counts it."""
    rows = []
    width = batch.inputs.shape[1]
    for row in range(len(batch.examples)):
        for position in range(width):
            target = int(batch.targets[row, position])
            rows.append({
                "row": row,
                "position": position,
                "input_id": int(batch.inputs[row, position]),
                "input": token_label(int(batch.inputs[row, position])),
                "input_role": batch.input_role(row, position),
                "target_id": target,
                "target": token_label(target),
                "target_role": batch.target_role(row, position),
                "counted": target != IGNORE_INDEX,
            })
    return rows


def padding_rows(batch: MaskedBatch) -> list[dict[str, object]]:
    """Per row: real tokens, padding added to reach the batch's width, and targets the loss sees."""
    width = batch.inputs.shape[1]
    return [{"row": row, "tokens": len(example.ids), "padding": max(0, width - len(example.ids)),
             "targets counted": batch.counted_in_row(row), "width": width}
            for row, example in enumerate(batch.examples)]


@dataclass(frozen=True)
class MaskLosses:
    """The model's loss on one batch three ways, and how many targets each one averages over."""

    no_mask: float  # padding targets scored as end-of-text tokens
    padding_mask: float  # the book's: padding but the first end-of-text ignored
    instruction_mask: float  # also the prompt ignored (exercise 7.2)
    no_mask_tokens: int
    padding_mask_tokens: int
    instruction_mask_tokens: int


def mask_losses(model: nn.Module, examples: Sequence[Example], allowed_max_length: int | None = None) -> MaskLosses:
    """Loss of `model` (evaluation mode, no gradients) on `examples` without a mask, with the padding
    mask, and with the instruction mask as well."""
    if model.cfg["vocab_size"] <= PAD_TOKEN_ID:
        raise UserError("the mask inspector needs a model with GPT-2's vocabulary of 50,257 tokens")
    padded = mask_batch(examples, False, allowed_max_length)
    masked = mask_batch(examples, True, allowed_max_length)
    everything = padded.targets.masked_fill(padded.targets == IGNORE_INDEX, PAD_TOKEN_ID)
    context = model.cfg["context_length"]
    if padded.inputs.shape[1] > context:
        raise UserError(f"the batch is {padded.inputs.shape[1]} tokens wide; the model reads at most {context}: "
                        "crop it with the allowed length")
    with inference(model):
        losses = [calc_loss_batch(padded.inputs, t, model).item() for t in (everything, padded.targets)]
        masked_loss = calc_loss_batch(masked.inputs, masked.targets, model).item() if masked.counted else float("nan")
    return MaskLosses(losses[0], losses[1], masked_loss, everything.numel(), padded.counted, masked.counted)
