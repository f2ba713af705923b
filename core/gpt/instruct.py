"""Instruction fine-tuning (book chapter 7, sections 7.5-7.7): the loss, the task, responses.

The loss is the next-token cross-entropy over the targets that are not -100, so padding (and, with
the exercise 7.2 mask, the prompt) costs nothing. Responses are what the model writes after a
record's prompt, saved beside the run in the book's `instruction-data-with-response.json` shape.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from core.atomic import write_text
from core.errors import UserError
from core.gpt.generate import generate
from core.gpt.instruction_data import IGNORE_INDEX, PAD_TOKEN_ID, format_input, validate_records

RESPONSES_FILE = "instruction-data-with-response.json"
MAX_NEW_TOKENS = 256  # the book's length for test-set responses (section 7.7)


def calc_loss_batch(input_batch: torch.Tensor, target_batch: torch.Tensor, model: nn.Module) -> torch.Tensor:
    """Mean cross-entropy of the next-token predictions whose target is not -100 (section 7.6)."""
    device = next(model.parameters()).device
    targets = target_batch.to(device)
    if not bool((targets != IGNORE_INDEX).any()):
        raise UserError("every target in this batch is masked (-100): the loss has nothing to learn from; "
                        "allow a longer length or turn the instruction mask off")
    logits = model(input_batch.to(device))
    return F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=IGNORE_INDEX)


def calc_loss_loader(loader: DataLoader, model: nn.Module, num_batches: int | None = None) -> float:
    """Average batch loss over the first `num_batches` batches of `loader` (all by default)."""
    if len(loader) == 0:
        raise UserError("the data loader has no batches")
    num_batches = len(loader) if num_batches is None else min(num_batches, len(loader))
    total = 0.0
    for i, (inputs, targets) in enumerate(loader):
        if i == num_batches:
            break
        total += calc_loss_batch(inputs, targets, model).item()
    return total / num_batches


# ---------------------------------------------------------------------------------------------
# Responses (section 7.7)


def generate_response(
    model: nn.Module,
    entry: dict[str, str],
    max_new_tokens: int = MAX_NEW_TOKENS,
    temperature: float = 0.0,
    top_k: int | None = None,
    seed: int | None = None,
) -> str:
    """What the model writes after the record's prompt, up to its end-of-text, without the response header."""
    from core.gpt.tokenizers import check_text_length, decode, encode

    if not isinstance(entry.get("instruction"), str) or not entry["instruction"].strip():
        raise UserError("the instruction is empty: type what the model should do")
    prompt = format_input(entry)
    check_text_length(prompt)
    ids = torch.tensor([encode(prompt)], dtype=torch.long)
    out = generate(model, ids, max_new_tokens, temperature=temperature, top_k=top_k, eos_id=PAD_TOKEN_ID, seed=seed)
    text = decode(out[0, ids.shape[1] :].tolist())
    return text.replace("### Response:", "", 1).strip()


def save_responses(run_dir: Path, records: Sequence[dict[str, Any]]) -> Path:
    """The test records with their `model_response`, as one JSON list, written atomically."""
    return write_text(Path(run_dir) / RESPONSES_FILE, json.dumps(list(records), indent=1, ensure_ascii=False))


def read_responses(run_dir: Path) -> list[dict[str, str]] | None:
    """The run's saved responses, or None when it has none (a stopped run)."""
    path = Path(run_dir) / RESPONSES_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UserError(f"{path} is damaged ({err})") from None
    records = validate_records(data, str(path))
    if any(not isinstance(r.get("model_response"), str) for r in records):
        raise UserError(f"{path} has a record without a model_response")
    return records
