"""The SMS Spam Collection: parsing every line, errors naming the line, balancing, splits, loaders."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
import torch

from core.gpt.spam_data import (
    LABELS,
    PAD_TOKEN_ID,
    Message,
    SpamDataError,
    SpamDataset,
    balance,
    balanced_splits,
    create_spam_loaders,
    download_messages,
    load_messages,
    parse_messages,
    random_crops,
    read_messages,
    split_messages,
)


def char_encode(text: str) -> list[int]:
    """A stand-in tokenizer: one ID per character (no vocabulary file needed)."""
    return [ord(c) % 50000 for c in text]


def fake_messages(n_ham: int, n_spam: int) -> list[Message]:
    ham = [Message(f"ham message {i}", 0, i + 1) for i in range(n_ham)]
    spam = [Message(f"WIN a prize {i} call now", 1, n_ham + i + 1) for i in range(n_spam)]
    return ham + spam


# ---------------------------------------------------------------------------------------------
# The real file


@pytest.fixture(scope="module")
def messages(sms_spam_path):
    return read_messages(sms_spam_path)


def test_reads_every_line_of_the_real_file(messages):
    assert len(messages) == 5574
    assert sum(m.label == 0 for m in messages) == 4827
    assert sum(m.label == 1 for m in messages) == 747
    assert [m.line for m in messages] == list(range(1, 5575))


def test_messages_with_stray_quotes_stay_whole(messages, sms_spam_path):
    # pandas' default quoting merges these into their neighbours; we keep each line as it is.
    raw_lines = sms_spam_path.read_text(encoding="utf-8").split("\n")
    quoted = [m for m in messages if '"' in m.text]
    assert quoted
    for m in quoted:
        assert raw_lines[m.line - 1] == f"{m.label_name}\t{m.text}"


def test_book_balance_and_split_sizes(messages):
    splits = balanced_splits(messages, seed=123)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (1045, 149, 300)
    everything = splits.train + splits.val + splits.test
    assert sum(m.label for m in everything) == 747  # every spam kept, ham cut to the same count
    assert len({m.line for m in everything}) == 1494  # no message twice


def test_load_messages_finds_the_shared_copy(sms_spam_path, monkeypatch):
    monkeypatch.setenv("LLM_JOURNAL_DATA_DIR", str(sms_spam_path.parent.parent))
    assert len(load_messages(download=False)) == 5574


# ---------------------------------------------------------------------------------------------
# Parsing and its errors


def test_parse_tolerates_crlf_bom_and_blank_lines_and_keeps_odd_characters():
    raw = "\ufeffham\tHi there\r\n\nspam\tFREE \u2028 prize \x0b now\r\n"
    out = parse_messages(raw)
    assert [(m.label, m.text, m.line) for m in out] == [(0, "Hi there", 1), (1, "FREE \u2028 prize \x0b now", 3)]


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("ham\tok\nspam no tab here\n", r"line 2: expected 2 tab-separated columns .* found 1"),
        ("ham\tok\nham\tone\ttwo\n", r"line 2: expected 2 tab-separated columns .* found 3"),
        ("ham\tok\nham\tfine\neggs\tbad label\n", r"line 3: unknown label 'eggs'"),
        ("spam\t   \n", r"line 1: the message after the label is empty"),
        ("", r"holds no messages"),
        ("\n \n\r\n", r"holds no messages"),
    ],
)
def test_malformed_text_names_the_problem_line(raw, expected):
    with pytest.raises(SpamDataError, match=expected):
        parse_messages(raw)


def test_read_errors_name_the_file_and_line(tmp_path):
    with pytest.raises(SpamDataError, match="no spam collection file"):
        read_messages(tmp_path / "missing")
    empty = tmp_path / "empty.tsv"
    empty.write_bytes(b"")
    with pytest.raises(SpamDataError, match="empty.tsv holds no messages"):
        read_messages(empty)
    latin1 = tmp_path / "latin1.tsv"
    latin1.write_bytes("ham\tok\nham\tcaf\xe9\n".encode("latin-1"))
    with pytest.raises(SpamDataError, match=r"latin1.tsv, line 2: not valid UTF-8"):
        read_messages(latin1)
    with pytest.raises(SpamDataError, match="no spam collection file"):
        read_messages(tmp_path)  # a folder is not a file


def test_load_without_file_or_download_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_JOURNAL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LLM_JOURNAL_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(SpamDataError, match="archive.ics.uci.edu"):
        load_messages(download=False)


# ---------------------------------------------------------------------------------------------
# Download (from a local zip through a file:// URL: the same code path as the UCI one)


def make_zip(path: Path, members: dict[str, bytes]) -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    path.write_bytes(buffer.getvalue())
    return path.as_uri()


def test_download_extracts_the_collection_into_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_JOURNAL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LLM_JOURNAL_CACHE_DIR", str(tmp_path / "cache"))
    url = make_zip(tmp_path / "sms.zip", {"readme": b"about", "SMSSpamCollection": b"ham\thello\nspam\tWIN now\n"})
    path = download_messages(url)
    assert path == tmp_path / "cache" / "sms-spam" / "SMSSpamCollection"
    assert [m.text for m in load_messages(download=False)] == ["hello", "WIN now"]
    assert [p.name for p in path.parent.iterdir()] == ["SMSSpamCollection"]  # no temporary left behind


def test_download_refuses_what_is_not_the_collection(tmp_path):
    wrong_member = make_zip(tmp_path / "a.zip", {"other.txt": b"ham\thi\n"})
    with pytest.raises(SpamDataError, match="not the SMS Spam Collection zip"):
        download_messages(wrong_member, tmp_path / "out")
    not_zip = tmp_path / "b.zip"
    not_zip.write_bytes(b"<html>maintenance</html>")
    with pytest.raises(SpamDataError, match="not the SMS Spam Collection zip"):
        download_messages(not_zip.as_uri(), tmp_path / "out")
    broken = make_zip(tmp_path / "c.zip", {"SMSSpamCollection": b"ham\tok\nmaybe\tnot\n"})
    with pytest.raises(SpamDataError, match="line 2: unknown label 'maybe'"):
        download_messages(broken, tmp_path / "out")
    with pytest.raises(SpamDataError, match="could not download"):
        download_messages((tmp_path / "nothing.zip").as_uri(), tmp_path / "out")
    assert not (tmp_path / "out" / "SMSSpamCollection").exists()


# ---------------------------------------------------------------------------------------------
# Balancing and splitting


def test_balance_undersamples_the_larger_class_reproducibly():
    messages = fake_messages(50, 8)
    kept = balance(messages, seed=1)
    assert sum(m.label == 0 for m in kept) == sum(m.label == 1 for m in kept) == 8
    assert kept == balance(messages, seed=1)
    assert kept != balance(messages, seed=2)
    with pytest.raises(SpamDataError, match="both classes"):
        balance(fake_messages(5, 0))


def test_split_fractions_and_seeded_shuffle():
    messages = fake_messages(60, 40)
    splits = split_messages(messages, seed=7)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (70, 10, 20)
    assert sorted(splits.train + splits.val + splits.test, key=lambda m: m.line) == messages
    assert splits == split_messages(messages, seed=7)
    assert splits.train != split_messages(messages, seed=8).train
    with pytest.raises(ValueError, match="sum below 1"):
        split_messages(messages, 0.8, 0.3)


# ---------------------------------------------------------------------------------------------
# Datasets and loaders


def test_dataset_pads_to_longest_and_truncates_to_a_given_maximum():
    messages = [Message("abc", 0, 1), Message("abcdef", 1, 2), Message("a", 0, 3)]
    ds = SpamDataset(messages, char_encode)
    assert ds.max_length == 6
    assert ds.input_ids[0].tolist() == [97, 98, 99] + [PAD_TOKEN_ID] * 3
    assert ds.lengths.tolist() == [3, 6, 1]
    short = SpamDataset(messages, char_encode, max_length=2)
    assert short.input_ids.tolist() == [[97, 98], [97, 98], [97, PAD_TOKEN_ID]]
    x, y = short[1]
    assert y.item() == 1 and x.dtype == torch.long


def test_loaders_share_the_training_width_and_drop_only_partial_training_batches():
    splits = split_messages(fake_messages(30, 30), seed=3)
    loaders = create_spam_loaders(splits, char_encode, batch_size=8, seed=3)
    assert loaders.max_length == max(len(m.text) for m in splits.train)
    assert len(loaders.train) == len(splits.train) // 8
    assert sum(len(y) for _, y in loaders.val) == len(splits.val)
    again = create_spam_loaders(splits, char_encode, batch_size=8, seed=3)
    assert [y.tolist() for _, y in loaders.train] == [y.tolist() for _, y in again.train]
    for loader in (loaders.train, loaders.val, loaders.test):
        x, _ = next(iter(loader))
        assert x.shape[1] == loaders.max_length


def test_loaders_with_gpt2_tokens(messages, gpt2_encoding):
    loaders = create_spam_loaders(balanced_splits(messages), batch_size=8, max_length=120)
    x, y = next(iter(loaders.train))
    assert x.shape == (8, 120) and set(y.tolist()) <= {0, 1}
    first = loaders.train.dataset.messages[0]
    ids = gpt2_encoding.encode(first.text)[:120]
    assert loaders.train.dataset.input_ids[0, : len(ids)].tolist() == ids
    assert LABELS == ("ham", "spam")


def test_random_crops_keep_a_contiguous_stretch_at_the_start():
    pad = PAD_TOKEN_ID
    rows = torch.tensor([[1, 2, 3, 4, 5, 6, 7, 8], [9, 10, 11, pad, pad, pad, pad, pad],
                         [12, pad, pad, pad, pad, pad, pad, pad]])
    assert torch.equal(random_crops(rows, 0.0), rows)
    generator = torch.Generator().manual_seed(0)
    for _ in range(50):
        out = random_crops(rows, 1.0, min_frac=0.5, generator=generator)
        for original, cropped in zip(rows.tolist(), out.tolist(), strict=False):
            real = [t for t in original if t != pad]
            kept = [t for t in cropped if t != pad]
            assert cropped[: len(kept)] == kept  # real tokens first, then padding
            assert len(real) / 2 <= len(kept) <= len(real)
            starts = [i for i in range(len(real)) if real[i : i + len(kept)] == kept]
            assert starts  # a contiguous stretch of the message
    again = random_crops(rows, 0.7, generator=torch.Generator().manual_seed(3))
    assert torch.equal(again, random_crops(rows, 0.7, generator=torch.Generator().manual_seed(3)))
    with pytest.raises(ValueError, match="min_frac"):
        random_crops(rows, 0.5, min_frac=0.0)
