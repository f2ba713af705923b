"""What the sampling sandbox shows (book section 5.3): settings, the distribution at each stage, picks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from core.gpt.generate import (
    Stages,
    make_generator,
    next_token_distribution,
    sample_from,
)
from core.gpt.model import GPTModel


@dataclass(frozen=True)
class Strategy:
    """How the next token is chosen; `temperature` 0 is greedy, None turns top-k / top-p off."""

    temperature: float = 0.0
    top_k: int | None = None
    top_p: float | None = None

    @property
    def greedy(self) -> bool:
        return self.temperature == 0



STAGES = ("1 · raw scores", "2 · after top-k", "3 · after temperature", "4 · after top-p")
OTHERS = "(all other tokens)"


def stage_probabilities(stages: Stages) -> dict[str, torch.Tensor]:
    """Each stage as probabilities over the vocabulary: softmax of the scores, or the kept mass."""
    return {
        STAGES[0]: torch.softmax(stages.logits.float(), dim=-1),
        STAGES[1]: torch.softmax(stages.top_k_logits, dim=-1),
        STAGES[2]: stages.probs,
        STAGES[3]: stages.top_p_probs,
    }


def stage_rows(stages: Stages, label: Callable[[int], str], top_n: int = 15) -> list[dict[str, object]]:
    """The `top_n` most likely tokens (by raw score) at every stage, plus the rest's total mass."""
    by_stage = stage_probabilities(stages)
    top = torch.topk(stages.logits.float(), min(top_n, stages.logits.shape[-1])).indices.tolist()
    rows = []
    for rank, token in enumerate(top, start=1):
        for stage, probs in by_stage.items():
            rows.append({"stage": stage, "rank": rank, "token": label(token), "id": token,
                         "probability": float(probs[token])})
    for stage, probs in by_stage.items():
        rest = max(0.0, 1.0 - float(probs[top].sum()))
        rows.append({"stage": stage, "rank": len(top) + 1, "token": OTHERS, "id": -1, "probability": rest})
    return rows


def kept_tokens(stages: Stages) -> int:
    """How many tokens the next one can still be drawn from."""
    return int((stages.final > 0).sum())


@dataclass(frozen=True)
class Pick:
    """One token added by the "next token" button."""

    id: int
    probability: float  # in the distribution it was drawn from
    raw_probability: float  # before top-k, temperature and top-p
    rank: int  # 1 = the model's favourite


def step_seed(seed: int, step: int) -> int:
    """A seed per step, so a replayed sequence of clicks draws the same tokens."""
    return (seed * 1_000_003 + step) % 2**63


def pick_next(model: GPTModel, ids: Sequence[int], strategy: Strategy, seed: int, step: int) -> tuple[Stages, Pick]:
    """The distribution after `ids` and the token drawn from it with the step's own seed."""
    stages = next_token_distribution(model, list(ids), strategy.temperature, strategy.top_k, strategy.top_p)
    token, probability = sample_from(stages, make_generator(step_seed(seed, step)))
    raw = torch.softmax(stages.logits.float(), dim=-1)
    rank = int((raw > raw[token]).sum()) + 1
    return stages, Pick(token, probability, float(raw[token]), rank)
