"""Sliding-window data (book section 2.6)."""

import pytest
import torch

from core.gpt.data import (
    GPTDataset,
    TextTooShortError,
    create_dataloader,
    split_token_ids,
)


def test_targets_are_inputs_shifted_by_one():
    dataset = GPTDataset(list(range(20)), max_length=4, stride=4)
    assert len(dataset) == 4
    inputs, targets = dataset[1]
    assert inputs.tolist() == [4, 5, 6, 7]
    assert targets.tolist() == [5, 6, 7, 8]


def test_stride_one_overlaps():
    dataset = GPTDataset(list(range(10)), max_length=4, stride=1)
    assert len(dataset) == 6
    assert dataset[5][1].tolist() == [6, 7, 8, 9]


def test_too_short_names_the_minimum():
    with pytest.raises(TextTooShortError, match="needs at least 9"):
        GPTDataset([1, 2, 3], max_length=8, stride=1)
    GPTDataset(list(range(9)), max_length=8, stride=1)  # exactly enough


def test_loader_batches_and_small_corpus_keeps_partial_batch():
    loader = create_dataloader(list(range(100)), batch_size=4, max_length=8, stride=8, shuffle=False)
    batch = next(iter(loader))
    assert batch[0].shape == (4, 8)
    tiny = create_dataloader(list(range(20)), batch_size=8, max_length=8, stride=8)
    assert len(tiny) == 1 and next(iter(tiny))[0].shape == (2, 8)


def test_seeded_shuffle_is_reproducible():
    ids = list(range(200))
    first = [b[0] for b in create_dataloader(ids, batch_size=2, max_length=4, stride=4, seed=3)]
    second = [b[0] for b in create_dataloader(ids, batch_size=2, max_length=4, stride=4, seed=3)]
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=False))


def test_split_ratio():
    train, val = split_token_ids(list(range(100)), 0.9)
    assert (len(train), len(val)) == (90, 10) and train[-1] + 1 == val[0]
    with pytest.raises(ValueError, match="strictly between"):
        split_token_ids([1, 2], 1.0)


def test_verdict_windows(verdict_text, gpt2_encoding):
    ids = gpt2_encoding.encode(verdict_text)
    dataset = GPTDataset(ids, max_length=256, stride=256)
    assert len(dataset) == (len(ids) - 257) // 256 + 1
