"""Turning token IDs into training batches (book section 2.6).

A window of `max_length` tokens slides over the text by `stride`; each window's target
is the same window shifted one token to the right: the model learns to predict the next token.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.utils.data import DataLoader, Dataset

from core.errors import UserError
from core.text import plural


class TextTooShortError(UserError):
    """The text has fewer tokens than one input/target window needs."""


class CorpusError(UserError):
    """A corpus file that cannot be used: missing, unreadable, empty or not UTF-8 text."""


class GPTDataset(Dataset):
    """Input/target pairs from a sliding window over `token_ids` (the book's `GPTDatasetV1`)."""

    def __init__(self, token_ids: Sequence[int], max_length: int, stride: int):
        if max_length < 1 or stride < 1:
            raise UserError(f"max_length and stride must be at least 1, got {max_length} and {stride}")
        ids = torch.as_tensor(list(token_ids), dtype=torch.long)
        needed = max_length + 1
        if len(ids) < needed:
            raise TextTooShortError(
                f"the text has {plural(len(ids), 'token')}; one window of max_length={max_length} "
                f"needs at least {needed} (the inputs plus one next token)"
            )
        # Every window of max_length + 1 tokens holds one input (all but last) and its target (all but first).
        windows = ids.unfold(0, needed, stride)
        self.input_ids = windows[:, :-1]
        self.target_ids = windows[:, 1:]

    def __len__(self) -> int:
        return len(self.input_ids)

    def __getitem__(self, idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.input_ids[idx], self.target_ids[idx]


def split_token_ids(token_ids: Sequence[int], train_ratio: float = 0.9) -> tuple[list[int], list[int]]:
    """Split a token sequence into a training head and a validation tail (section 5.1.3)."""
    if not 0.0 < train_ratio < 1.0:
        raise UserError(f"train_ratio must be strictly between 0 and 1, got {train_ratio}")
    ids = list(token_ids)
    cut = int(train_ratio * len(ids))
    return ids[:cut], ids[cut:]


def create_dataloader(
    token_ids: Sequence[int],
    batch_size: int = 4,
    max_length: int = 256,
    stride: int = 128,
    shuffle: bool = True,
    drop_last: bool = True,
    seed: int | None = None,
) -> DataLoader:
    """A DataLoader of (inputs, targets) batches, each of shape (batch_size, max_length)."""
    if batch_size < 1:
        raise UserError(f"batch_size must be at least 1, got {batch_size}")
    dataset = GPTDataset(token_ids, max_length, stride)
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    # Never drop the only (partial) batch: a tiny corpus would otherwise give an empty loader.
    drop_last = drop_last and len(dataset) >= batch_size
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, generator=generator)
