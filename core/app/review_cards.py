"""The book's self-test cards, each answer computed live by the GPT code (`core.gpt`), never typed in.

A parameter count from the model built on the meta device, ln of the vocabulary size, the order of the
sampling stages as `core.gpt.generate` runs them, a token count from the GPT-2 tokenizer, the targets
chapter 7's `custom_collate_fn` leaves to the loss.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable
from dataclasses import fields

from core.errors import Unavailable
from core.gpt.config import GPT2_VOCAB_SIZE, PRESETS
from core.gpt.generate import Stages
from core.gpt.instruction_data import IGNORE_INDEX, custom_collate_fn
from core.gpt.params import count_parameters
from core.gpt.tokenizers import encode
from core.journal.review import ReviewCard


@functools.cache  # answers depend on core's code only: worked out once per process
def _gpt2_medium_tied() -> ReviewCard:
    count = count_parameters({**PRESETS["gpt2-medium"], "tie_weights": True})
    return ReviewCard(
        id="params-gpt2-medium-tied", chapter="Chapter 4", widget="parameters",
        question="How many parameters does GPT-2 medium have with weight tying (the output head shares the token "
                 "embedding)? Within 1 %.",
        answer=count.total_tied, tolerance=count.total_tied * 0.01,
        explanation=f"Counted from the model built on PyTorch's meta device: {count.total_tied:,} with tying, "
                    f"{count.total:,} without (the output head alone is {count.total - count.total_tied:,}).")


@functools.cache
def _untrained_loss() -> ReviewCard:
    loss = math.log(GPT2_VOCAB_SIZE)
    return ReviewCard(
        id="loss-untrained", chapter="Chapter 5", widget="pretraining",
        question=f"What cross-entropy loss does an untrained model give over {GPT2_VOCAB_SIZE:,} tokens, guessing "
                 "uniformly? Two decimals.",
        answer=round(loss, 2), tolerance=0.01,
        explanation=f"A uniform guess gives every token probability 1/{GPT2_VOCAB_SIZE:,}, so the loss is "
                    f"ln {GPT2_VOCAB_SIZE:,} = {loss:.4f} (perplexity {GPT2_VOCAB_SIZE:,}).")


@functools.cache
def _sampling_order() -> ReviewCard:
    names = {"top_k_logits": "top-k", "scaled_logits": "temperature", "probs": "softmax"}
    answer = ", then ".join(names[f.name] for f in fields(Stages) if f.name in names)  # the pipeline's own order
    wrong = [", then ".join(p) for p in (("temperature", "top-k", "softmax"), ("softmax", "top-k", "temperature"),
                                         ("top-k", "softmax", "temperature"))]
    return ReviewCard(
        id="sampling-order", chapter="Chapter 5", widget="sampling",
        question="In which order does generation apply top-k, temperature and softmax to the next-token scores?",
        answer=answer, choices=tuple(sorted({answer, *wrong})),
        explanation="Top-k keeps the k highest scores (the rest become -inf), temperature divides the kept scores, "
                    "and softmax turns them into the probabilities the next token is drawn from.")


@functools.cache
def _token_count() -> ReviewCard:
    text = "Hello, do you like tea? <|endoftext|> In the sunlit terraces"
    n = len(encode(text, allow_special=True))
    return ReviewCard(
        id="tokens-hello-tea", chapter="Chapter 2", widget="tokenizer",
        question=f"How many GPT-2 tokens is {text!r}, with <|endoftext|> allowed as one special token?",
        answer=n, tolerance=0,
        explanation=f"GPT-2's byte pair encoding gives {n} tokens: most words with their leading space are one "
                    "token each, punctuation is its own token, and <|endoftext|> is the single token 50256.")


@functools.cache
def _collate_targets() -> ReviewCard:
    batch = [[0, 1, 2, 3, 4], [5, 6], [7, 8, 9]]  # the book's example batch, section 7.3
    _, targets = custom_collate_fn(batch)
    seen = int((targets != IGNORE_INDEX).sum())
    return ReviewCard(
        id="collate-targets", chapter="Chapter 7", widget="instruction",
        question=f"custom_collate_fn pads the batch {batch} and shifts the targets by one. How many target "
                 f"tokens does the loss see (targets that are not {IGNORE_INDEX})?",
        answer=seen, tolerance=0,
        explanation=f"Each row is padded to the longest item plus one end-of-text, then shifted by one, so inputs "
                    f"and targets are {targets.shape[1]} wide; every padding target but the first becomes "
                    f"{IGNORE_INDEX}, so the loss sees {seen} of {targets.numel()} targets: "
                    "each item's own tokens after the first, plus one end-of-text each.")


BOOK_CARDS: tuple[Callable[[], ReviewCard], ...] = (
    _token_count, _gpt2_medium_tied, _untrained_loss, _sampling_order, _collate_targets)


def book_cards(chapters: Iterable[str] | None = None) -> tuple[list[ReviewCard], list[str]]:
    """The book's cards (for `chapters` when given) and a note for each card that cannot be computed here."""
    wanted = None if chapters is None else set(chapters)
    cards, notes = [], []
    for make in BOOK_CARDS:
        try:
            card = make()
        except Unavailable as err:
            notes.append(f"A card is left out: {err}")
            continue
        if wanted is None or card.chapter in wanted:
            cards.append(card)
    return cards, notes
