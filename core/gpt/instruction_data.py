"""The instruction data set for instruction fine-tuning (book chapter 7, sections 7.2-7.4).

1,100 `{"instruction", "input", "output"}` records in the Alpaca prompt style, split 85 / 5 / 10 %
in file order (935 / 55 / 110: training, validation, test). `format_input` writes a record's
prompt as the book does; `InstructionDataset` tokenizes whole examples; `custom_collate_fn` pads a
batch to its longest example plus one end-of-text token, shifts the targets by one and replaces
every padding target but the first by -100, so the loss ignores them. With `mask_instruction`
(the book's exercise 7.2) the prompt's targets are -100 too, and the loss sees only the response.

The prompt and the response are tokenized apart and joined, so every token belongs to exactly one
part (the inspector colours them by it); `<|endoftext|>` typed inside a record is ordinary text,
never the real end-of-text token.
"""

from __future__ import annotations

import json
import os
import random
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from core.atomic import write_bytes
from core.errors import Unavailable, UserError
from core.paths import cache_dir, data_dir, find_data_file

DATA_FILE = "instruction/instruction-data.json"  # relative to data_dir() or cache_dir()
BOOK_URL = (
    "https://raw.githubusercontent.com/rasbt/LLMs-from-scratch/main/ch07/01_main-chapter-code/instruction-data.json"
)
KEYS = ("instruction", "input", "output")
PAD_TOKEN_ID = 50256  # GPT-2's <|endoftext|>: the end of every example and the padding after it
IGNORE_INDEX = -100  # what torch's cross_entropy skips by default
MAX_FILE_BYTES = 20_000_000  # the book's file has 0.2 MB
PREAMBLE = (
    "Below is an instruction that describes a task. Write a response that appropriately completes the request."
)
RESPONSE_HEADER = "\n\n### Response:\n"


class InstructionDataError(UserError):
    """An instruction data file or record that cannot be used."""


class InstructionDataUnavailable(Unavailable):
    """The instruction data is not on this machine and could not be downloaded."""


# ---------------------------------------------------------------------------------------------
# Records and prompts (sections 7.2)


def validate_records(data: Any, source: str = "the instruction data") -> list[dict[str, str]]:
    """The records of a parsed JSON file: a non-empty list of objects whose three keys hold text."""
    if not isinstance(data, list):
        raise InstructionDataError(
            f"{source} must be a JSON list of records, found a JSON {type(data).__name__}"
        )
    if not data:
        raise InstructionDataError(f"{source} holds no records (an empty list)")
    records = []
    for index, record in enumerate(data):
        if not isinstance(record, dict):
            raise InstructionDataError(f"{source}, record {index}: expected an object with keys "
                                       f"{', '.join(KEYS)}, found a {type(record).__name__}")
        for key in KEYS:
            if key not in record:
                raise InstructionDataError(f"{source}, record {index}: the key {key!r} is missing")
            if not isinstance(record[key], str):
                raise InstructionDataError(
                    f"{source}, record {index}: {key!r} must be text, found a {type(record[key]).__name__}"
                )
        if not record["instruction"].strip():
            raise InstructionDataError(f"{source}, record {index}: the 'instruction' is empty")
        records.append(dict(record))
    return records


def parse_records(data: bytes, source: str = "the instruction data") -> list[dict[str, str]]:
    """Records from a JSON file's bytes (UTF-8)."""
    if len(data) > MAX_FILE_BYTES:
        raise InstructionDataError(f"{source} has {len(data):,} bytes; the limit is {MAX_FILE_BYTES:,}")
    try:
        parsed = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as err:
        raise InstructionDataError(f"{source} is not UTF-8 text (byte {err.start})") from None
    except json.JSONDecodeError as err:
        raise InstructionDataError(f"{source} is not valid JSON: {err.msg} at line {err.lineno}, "
                                   f"column {err.colno}") from None
    return validate_records(parsed, source)


def read_records(path: str | os.PathLike) -> list[dict[str, str]]:
    path = Path(path)
    if not path.is_file():
        raise InstructionDataError(f"no instruction data file at {path}")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise InstructionDataError(f"{path} has {path.stat().st_size:,} bytes; the book's file has about 0.2 MB")
    return parse_records(path.read_bytes(), str(path))


def download_records(url: str = BOOK_URL, timeout: float = 30.0) -> Path:
    """Download the book's file into the cache (checked, then written atomically) and return its path."""
    target = cache_dir() / DATA_FILE
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            data = response.read(MAX_FILE_BYTES + 1)
    except OSError as err:  # URLError, timeouts and refused connections are all OSErrors
        raise InstructionDataUnavailable(
            f"could not download the instruction data from {url} ({err}). {how_to_get_data()}"
        ) from err
    parse_records(data, f"the download from {url}")
    target.parent.mkdir(parents=True, exist_ok=True)
    return write_bytes(target, data)


def how_to_get_data() -> str:
    return (f"Put the book's instruction-data.json at {data_dir() / DATA_FILE} or {cache_dir() / DATA_FILE}; "
            f"with internet the app downloads it from {BOOK_URL}.")


def load_records(path: str | os.PathLike | None = None, download: bool = False) -> list[dict[str, str]]:
    """All records: from `path`, else the data folder or cache, else (if `download`) from the book's repository."""
    if path is None:
        path = find_data_file(DATA_FILE)
    if path is None:
        if not download:
            raise InstructionDataUnavailable(f"the instruction data is not on this machine. {how_to_get_data()}")
        path = download_records()
    return read_records(path)


def make_record(instruction: str, input_text: str = "", output: str = "") -> dict[str, str]:
    """A record from typed text: the instruction must not be blank; all of it at most the tokenizer's limit."""
    from core.gpt.tokenizers import check_text_length, utf8_bytes

    if not isinstance(instruction, str) or not instruction.strip():
        raise InstructionDataError("the instruction is empty: type what the model should do")
    check_text_length(instruction + input_text + output)
    for text in (instruction, input_text, output):
        utf8_bytes(text)
    return {"instruction": instruction, "input": input_text, "output": output}


def format_input(entry: dict[str, str]) -> str:
    """The book's Alpaca-style prompt: preamble, instruction and (when not empty) input."""
    instruction = f"{PREAMBLE}\n\n### Instruction:\n{entry['instruction']}"
    return instruction + _input_part(entry)


def _input_part(entry: dict[str, str]) -> str:
    return f"\n\n### Input:\n{entry['input']}" if entry.get("input") else ""


def format_response(entry: dict[str, str]) -> str:
    """What the model learns to write after the prompt."""
    return RESPONSE_HEADER + entry["output"]


@dataclass(frozen=True)
class Splits:
    """The records in file order (section 7.2): the first 85 % train, the next 10 % test, the rest validation."""

    train: list[dict[str, str]]
    val: list[dict[str, str]]
    test: list[dict[str, str]]


def split_records(records: Sequence[dict[str, str]], train_frac: float = 0.85, test_frac: float = 0.1) -> Splits:
    if not (0 < train_frac < 1 and 0 <= test_frac < 1 and train_frac + test_frac < 1):
        raise UserError(f"need 0 < train_frac, 0 <= test_frac and a sum below 1; got {train_frac} and {test_frac}")
    train_end = int(len(records) * train_frac)
    test_end = train_end + int(len(records) * test_frac)
    return Splits(list(records[:train_end]), list(records[test_end:]), list(records[train_end:test_end]))


# ---------------------------------------------------------------------------------------------
# Tokenized examples (section 7.3)


@dataclass(frozen=True)
class Example:
    """One record's token IDs: `instruction_tokens` (preamble and instruction), then `input_tokens`,
    then the response (header and output)."""

    ids: tuple[int, ...]
    instruction_tokens: int
    input_tokens: int

    @property
    def prompt_tokens(self) -> int:
        return self.instruction_tokens + self.input_tokens

    @property
    def response_tokens(self) -> int:
        return len(self.ids) - self.prompt_tokens


def encode_example(entry: dict[str, str], encode: Callable[[str], list[int]] | None = None) -> Example:
    """Tokenize a record part by part: instruction, input, response."""
    if encode is None:
        from core.gpt.tokenizers import encode
    instruction = encode(f"{PREAMBLE}\n\n### Instruction:\n{entry['instruction']}")
    given = encode(_input_part(entry)) if _input_part(entry) else []
    response = encode(format_response(entry))
    return Example(tuple(instruction + given + response), len(instruction), len(given))


class InstructionDataset(Dataset):
    """Every record as an `Example` (listing 7.4)."""

    def __init__(self, records: Sequence[dict[str, str]], encode: Callable[[str], list[int]] | None = None):
        self.records = list(records)
        self.examples = [encode_example(entry, encode) for entry in self.records]

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> Example:
        return self.examples[index]


def custom_collate_fn(
    batch: Sequence[Example | Sequence[int]],
    pad_token_id: int = PAD_TOKEN_ID,
    ignore_index: int = IGNORE_INDEX,
    allowed_max_length: int | None = None,
    device: torch.device | str = "cpu",
    mask_instruction: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and targets (batch, width) for a batch of examples (or plain lists of token IDs).

    Each example gets one end-of-text token and padding up to the longest example plus one; the
    targets are the inputs shifted by one, with every padding target after the first (the kept
    end-of-text) set to `ignore_index`. `mask_instruction` sets the prompt's targets to
    `ignore_index` as well (exercise 7.2). `allowed_max_length` crops both on the right.
    """
    if not batch:
        raise UserError("the batch is empty")
    items = [(list(item.ids), item.prompt_tokens) if isinstance(item, Example) else (list(item), None)
             for item in batch]
    if mask_instruction and any(prompt is None for _, prompt in items):
        raise UserError("masking the instruction needs Examples, which know where their prompt ends")
    if any(not ids for ids, _ in items):
        raise UserError("every example needs at least one token")
    width = max(len(ids) for ids, _ in items) + 1
    inputs, targets = [], []
    for ids, prompt in items:
        padded = ids + [pad_token_id] * (width - len(ids))
        target = padded[1:]
        target[len(ids) :] = [ignore_index] * (len(target) - len(ids))  # all padding but the first end-of-text
        if mask_instruction:
            target[: prompt - 1] = [ignore_index] * (prompt - 1)
        inputs.append(padded[:-1])
        targets.append(target)
    input_tensor = torch.tensor(inputs, dtype=torch.long)
    target_tensor = torch.tensor(targets, dtype=torch.long)
    if allowed_max_length is not None:
        input_tensor, target_tensor = input_tensor[:, :allowed_max_length], target_tensor[:, :allowed_max_length]
    return input_tensor.to(device), target_tensor.to(device)


@dataclass(frozen=True)
class InstructionLoaders:
    train: DataLoader
    val: DataLoader
    test: DataLoader


def create_instruction_loaders(
    splits: Splits,
    batch_size: int = 8,
    allowed_max_length: int | None = 1024,
    mask_instruction: bool = False,
    seed: int = 123,
    encode: Callable[[str], list[int]] | None = None,
) -> InstructionLoaders:
    """Loaders as in section 7.4: shuffled training batches (last partial one dropped), ordered evaluation."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise UserError(f"batch_size must be at least 1, got {batch_size!r}")
    if not splits.train or not splits.val:
        raise UserError("instruction fine-tuning needs at least one training and one validation record")

    def collate(batch: Sequence[Example]) -> tuple[torch.Tensor, torch.Tensor]:
        return custom_collate_fn(batch, allowed_max_length=allowed_max_length, mask_instruction=mask_instruction)

    train = InstructionDataset(splits.train, encode)
    return InstructionLoaders(
        train=DataLoader(train, batch_size=batch_size, shuffle=True, drop_last=len(train) >= batch_size,
                         collate_fn=collate, generator=torch.Generator().manual_seed(seed)),
        val=DataLoader(InstructionDataset(splits.val, encode), batch_size=batch_size, collate_fn=collate),
        test=DataLoader(InstructionDataset(splits.test, encode), batch_size=batch_size, collate_fn=collate),
    )


def typical_width(lengths: Sequence[int], batch_size: int, seed: int = 123) -> float:
    """The mean padded width of shuffled batches of examples of these token lengths (for time estimates)."""
    order = list(lengths)
    random.Random(seed).shuffle(order)
    widths = [max(order[i : i + batch_size]) + 1 for i in range(0, len(order), batch_size)]
    return sum(widths) / len(widths) if widths else 0.0
