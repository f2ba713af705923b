"""Two models continue the same prompt with the same settings and seed: where do they part ways?

Each chosen token comes with the probability it was drawn with and the model's raw probability
for it, so the learner sees not only what each model wrote but how sure it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from core.gpt.generate import generate, inference, sampling_stages
from core.gpt.model import GPTModel
from core.widgets.sampling_view import Strategy


@dataclass(frozen=True)
class Continuation:
    ids: list[int]  # the new tokens only
    probs: list[float]  # each one's probability in the distribution it was drawn from (1 when greedy)
    raw_probs: list[float]  # each one's probability before top-k, temperature and top-p


def continue_prompt(model: GPTModel, prompt_ids: Sequence[int], max_new_tokens: int, strategy: Strategy,
                    seed: int) -> Continuation:
    """`model`'s continuation of `prompt_ids`, drawn with `seed`, with every chosen token's probability."""
    prompt = list(prompt_ids)
    out = generate(model, torch.tensor([prompt]), max_new_tokens, temperature=strategy.temperature,
                   top_k=strategy.top_k, top_p=strategy.top_p, seed=seed)[0].tolist()
    new = out[len(prompt):]
    if not new:
        return Continuation([], [], [])
    logits = _scores_before(model, out, len(prompt))
    stages = sampling_stages(logits, strategy.temperature, strategy.top_k, strategy.top_p)
    chosen = torch.tensor(new).unsqueeze(1)
    probs = stages.final.gather(1, chosen).squeeze(1)
    raw = torch.softmax(stages.logits, dim=-1).gather(1, chosen).squeeze(1)
    return Continuation(new, probs.tolist(), raw.tolist())


def _scores_before(model: GPTModel, ids: list[int], start: int) -> torch.Tensor:
    """The scores (len(ids) - start, vocab) that chose ids[start:], each seeing the context generation saw."""
    window = model.cfg["context_length"]
    with inference(model):
        if len(ids) - 1 <= window:  # one pass over the whole text
            return model(torch.tensor([ids[:-1]]))[0, start - 1:]
        return torch.stack([model(torch.tensor([ids[max(0, i - window):i]]))[0, -1] for i in range(start, len(ids))])


def first_divergence(a: Sequence[int], b: Sequence[int]) -> int | None:
    """The first index where the two token lists differ (or one ends); None when they are the same."""
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return i
    return None if len(a) == len(b) else min(len(a), len(b))
