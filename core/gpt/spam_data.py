"""The SMS Spam Collection for classification fine-tuning (book chapter 6, section 6.2-6.3).

Reads every line of the raw tab-separated file (`label<TAB>text`: 5,574 messages, 4,827 ham and
747 spam), balances the classes by undersampling ham, shuffles with a seed, splits 70/10/20 and
turns the messages into padded batches of GPT-2 token IDs.

The book reads the file with pandas' default CSV quoting, which silently merges two pairs of
lines that contain stray quote characters (its 4,825 ham); we split on tabs ourselves and keep all.
"""

from __future__ import annotations

import io
import os
import random
import urllib.request
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from core.atomic import write_bytes
from core.errors import UserError
from core.paths import SMS_SPAM_FILE, cache_dir, find_data_file

LABELS = ("ham", "spam")  # class index -> name
PAD_TOKEN_ID = 50256  # GPT-2's <|endoftext|>, the book's padding token
DATA_FILE = SMS_SPAM_FILE  # relative to data_dir() or cache_dir()
UCI_URL = "https://archive.ics.uci.edu/static/public/228/sms+spam+collection.zip"
ZIP_MEMBER = "SMSSpamCollection"
MAX_FILE_BYTES = 20_000_000  # the real file is 0.5 MB; anything far bigger is not it


class SpamDataError(UserError):
    """The spam collection file is missing, empty or malformed."""


@dataclass(frozen=True)
class Message:
    """One labelled SMS: `label` indexes `LABELS`; `line` is its 1-based line in the file."""

    text: str
    label: int
    line: int

    @property
    def label_name(self) -> str:
        return LABELS[self.label]


@dataclass(frozen=True)
class SpamSplits:
    """The balanced, shuffled messages split into training, validation and test sets."""

    train: list[Message]
    val: list[Message]
    test: list[Message]


def parse_messages(raw: str, source: str = "the spam collection") -> list[Message]:
    """Messages from the text of the file: one `label<TAB>message` per line, blank lines skipped."""
    messages = []
    raw = raw.removeprefix("\ufeff")  # a byte-order mark some editors add
    # Split on "\n" only: str.splitlines() would also break inside messages at \x0b, \x1c, U+2028...
    for number, line in enumerate(raw.split("\n"), start=1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 2:
            raise SpamDataError(
                f"{source}, line {number}: expected 2 tab-separated columns (label, message), "
                f"found {len(fields)}: {_preview(line)}"
            )
        label, text = fields[0].strip(), fields[1]
        if label not in LABELS:
            raise SpamDataError(
                f"{source}, line {number}: unknown label {_preview(label)}; expected one of {', '.join(LABELS)}"
            )
        if not text.strip():
            raise SpamDataError(f"{source}, line {number}: the message after the label is empty")
        messages.append(Message(text=text, label=LABELS.index(label), line=number))
    if not messages:
        raise SpamDataError(f"{source} holds no messages (it is empty or blank)")
    return messages


def read_messages(path: str | os.PathLike) -> list[Message]:
    """Parse the tab-separated file at `path`, raising `SpamDataError` with the line at fault."""
    path = Path(path)
    if not path.is_file():
        raise SpamDataError(f"no spam collection file at {path}")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise SpamDataError(f"{path} has {path.stat().st_size:,} bytes; the SMS Spam Collection has about 0.5 MB")
    return parse_bytes(path.read_bytes(), source=str(path))


def parse_bytes(data: bytes, source: str = "the spam collection") -> list[Message]:
    """Messages from the file's bytes, which must be UTF-8 text."""
    try:
        raw = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise SpamDataError(f"{source}, line {line}: not valid UTF-8 text (byte {err.start})") from None
    return parse_messages(raw, source)


def download_messages(url: str = UCI_URL, folder: str | os.PathLike | None = None, timeout: float = 30.0) -> Path:
    """Download the UCI zip, extract the collection into `folder` (default: the cache) and return its path.

    Only the one member is read from the zip, its size checked, and the file written atomically.
    """
    target = Path(folder) if folder is not None else cache_dir() / Path(DATA_FILE).parent
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            archive = response.read(MAX_FILE_BYTES + 1)
    except OSError as err:  # URLError, timeouts and refused connections are all OSErrors
        raise SpamDataError(
            f"could not download the SMS Spam Collection from {url} ({err}). Without internet, "
            f"put the file SMSSpamCollection under {target} or pass its path."
        ) from err
    if len(archive) > MAX_FILE_BYTES:
        raise SpamDataError(f"the download from {url} is larger than {MAX_FILE_BYTES:,} bytes; not the expected zip")
    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as zf:
            info = zf.getinfo(ZIP_MEMBER)
            if info.file_size > MAX_FILE_BYTES:
                raise SpamDataError(f"{ZIP_MEMBER} in the zip claims {info.file_size:,} bytes; not the expected file")
            content = zf.read(info)
    except (zipfile.BadZipFile, KeyError) as err:
        raise SpamDataError(f"the download from {url} is not the SMS Spam Collection zip ({err})") from err
    parse_bytes(content, source=f"{ZIP_MEMBER} from {url}")
    target.mkdir(parents=True, exist_ok=True)
    path = target / Path(DATA_FILE).name
    return write_bytes(path, content)


def load_messages(path: str | os.PathLike | None = None, download: bool = True) -> list[Message]:
    """All messages: from `path`, else the data folder or cache, else (if `download`) from UCI."""
    if path is None:
        path = find_data_file(DATA_FILE)
    if path is None:
        if not download:
            raise SpamDataError(
                f"the SMS Spam Collection is not in the data folder or the cache ({DATA_FILE}); "
                f"download it from {UCI_URL} or pass its path"
            )
        path = download_messages()
    return read_messages(path)


def balance(messages: Sequence[Message], seed: int = 123) -> list[Message]:
    """Keep every message of the rarest class and as many, drawn at random, of each other class."""
    by_label = {label: [m for m in messages if m.label == label] for label in range(len(LABELS))}
    present = {label: group for label, group in by_label.items() if group}
    if len(present) < 2:
        raise SpamDataError("balancing needs messages of both classes, ham and spam")
    count = min(len(group) for group in present.values())
    rng = random.Random(seed)
    kept = [m for group in present.values() for m in rng.sample(group, count)]
    return sorted(kept, key=lambda m: m.line)


def split_messages(
    messages: Sequence[Message], train_frac: float = 0.7, val_frac: float = 0.1, seed: int = 123
) -> SpamSplits:
    """Shuffle with `seed` and cut into train / validation / test (the rest) as in section 6.2."""
    if not (0 < train_frac < 1 and 0 <= val_frac < 1 and train_frac + val_frac < 1):
        raise UserError(f"need 0 < train_frac, 0 <= val_frac and a sum below 1; got {train_frac} and {val_frac}")
    shuffled = list(messages)
    random.Random(seed).shuffle(shuffled)
    train_end = int(len(shuffled) * train_frac)
    val_end = train_end + int(len(shuffled) * val_frac)
    return SpamSplits(shuffled[:train_end], shuffled[train_end:val_end], shuffled[val_end:])


def balanced_splits(messages: Sequence[Message], seed: int = 123) -> SpamSplits:
    """The book's recipe: undersample ham to the spam count, shuffle, split 70/10/20."""
    return split_messages(balance(messages, seed), seed=seed)


class SpamDataset(Dataset):
    """Token IDs of each message, truncated to `max_length` and right-padded with `pad_id` (listing 6.4).

    Without `max_length` the longest encoded message sets it; pass the training set's
    `max_length` to the validation and test sets so every batch has the same width.
    """

    def __init__(
        self,
        messages: Sequence[Message],
        encode: Callable[[str], list[int]],
        max_length: int | None = None,
        pad_id: int = PAD_TOKEN_ID,
    ):
        if not messages:
            raise UserError("a SpamDataset needs at least one message")
        if max_length is not None and max_length < 1:
            raise UserError(f"max_length must be at least 1, got {max_length}")
        self.messages = list(messages)
        self.pad_id = pad_id
        encoded = [encode(m.text) for m in self.messages]
        self.max_length = max_length or max(len(ids) for ids in encoded)
        self.input_ids = torch.full((len(encoded), self.max_length), pad_id, dtype=torch.long)
        self.lengths = torch.empty(len(encoded), dtype=torch.long)
        for row, ids in enumerate(encoded):
            ids = ids[: self.max_length]  # keep the start: senders put the hook first
            self.input_ids[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
            self.lengths[row] = len(ids)
        self.labels = torch.tensor([m.label for m in self.messages], dtype=torch.long)

    def __len__(self) -> int:
        return len(self.messages)

    def __getitem__(self, idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.input_ids[idx], self.labels[idx]


@dataclass(frozen=True)
class SpamLoaders:
    """Data loaders for the three splits; every batch is (token IDs (batch, max_length), labels (batch,))."""

    train: DataLoader
    val: DataLoader
    test: DataLoader
    max_length: int


def create_spam_loaders(
    splits: SpamSplits,
    encode: Callable[[str], list[int]] | None = None,
    batch_size: int = 8,
    max_length: int | None = None,
    seed: int = 123,
    pad_id: int = PAD_TOKEN_ID,
) -> SpamLoaders:
    """Loaders as in section 6.3: shuffled training batches (last partial one dropped), ordered evaluation."""
    if batch_size < 1:
        raise UserError(f"batch_size must be at least 1, got {batch_size}")
    if encode is None:
        from core.gpt.tokenizers import encode
    train = SpamDataset(splits.train, encode, max_length, pad_id)
    val = SpamDataset(splits.val, encode, train.max_length, pad_id) if splits.val else None
    test = SpamDataset(splits.test, encode, train.max_length, pad_id) if splits.test else None
    generator = torch.Generator().manual_seed(seed)
    drop_last = len(train) >= batch_size
    return SpamLoaders(
        train=DataLoader(train, batch_size=batch_size, shuffle=True, drop_last=drop_last, generator=generator),
        val=DataLoader(val or [], batch_size=batch_size),
        test=DataLoader(test or [], batch_size=batch_size),
        max_length=train.max_length,
    )


def random_crops(
    inputs: torch.Tensor, prob: float, min_frac: float = 0.5, pad_id: int = PAD_TOKEN_ID,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Training-time augmentation: each right-padded row, with probability `prob`, becomes a random
    stretch of at least `min_frac` of its real tokens, moved to the start and padded again.

    A model trained from scratch on whole messages learns "short means ham" (ham is short, spam
    long); stretches of messages teach it to find the spam signs wherever they are.
    """
    if not (0.0 <= prob <= 1.0 and 0.0 < min_frac <= 1.0):
        raise UserError(f"need 0 <= prob <= 1 and 0 < min_frac <= 1, got {prob} and {min_frac}")
    rows, width = inputs.shape
    lengths = (inputs != pad_id).sum(dim=1)
    crop = torch.rand(rows, generator=generator) < prob
    fracs = min_frac + (1.0 - min_frac) * torch.rand(rows, generator=generator)
    keep = torch.where(crop, (lengths * fracs).ceil().long(), lengths)  # 1..length, as 0 < frac < 1
    starts = ((lengths - keep + 1) * torch.rand(rows, generator=generator)).long()
    positions = torch.arange(width)
    taken = inputs.gather(1, (starts[:, None] + positions).clamp(max=width - 1))
    return taken.masked_fill(positions >= keep[:, None], pad_id)


def _preview(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")
