"""The instruction data (book sections 7.2-7.4): prompts, the split, the collate function and its masks."""

from __future__ import annotations

import json

import pytest
import torch

from core.errors import Unavailable, UserError
from core.gpt import instruction_data as idata
from core.gpt.instruction_data import (
    Example,
    InstructionDataError,
    InstructionDataset,
    create_instruction_loaders,
    custom_collate_fn,
    format_input,
    format_response,
    load_records,
    parse_records,
    read_records,
    split_records,
    validate_records,
)

PREAMBLE = "Below is an instruction that describes a task. Write a response that appropriately completes the request."


def test_format_input_exact_strings():
    with_input = {"instruction": "Edit the sentence.", "input": "He go home.", "output": "He goes home."}
    assert format_input(with_input) == f"{PREAMBLE}\n\n### Instruction:\nEdit the sentence.\n\n### Input:\nHe go home."
    without = {"instruction": "Name a colour.", "input": "", "output": "Blue."}
    assert format_input(without) == f"{PREAMBLE}\n\n### Instruction:\nName a colour."
    assert format_response(without) == "\n\n### Response:\nBlue."


def test_book_collate_example_exactly():
    batch = [[0, 1, 2, 3, 4], [5, 6], [7, 8, 9]]
    inputs, targets = custom_collate_fn(batch)
    assert inputs.tolist() == [[0, 1, 2, 3, 4], [5, 6, 50256, 50256, 50256], [7, 8, 9, 50256, 50256]]
    assert targets.tolist() == [[1, 2, 3, 4, 50256], [6, 50256, -100, -100, -100], [8, 9, 50256, -100, -100]]
    assert inputs.dtype == targets.dtype == torch.long


def test_collate_crops_to_allowed_max_length():
    inputs, targets = custom_collate_fn([[0, 1, 2, 3, 4], [5, 6]], allowed_max_length=3)
    assert inputs.tolist() == [[0, 1, 2], [5, 6, 50256]]
    assert targets.tolist() == [[1, 2, 3], [6, 50256, -100]]


def test_mask_instruction_exercise_7_2():
    # prompt of 3 tokens (2 instruction + 1 input), response of 2
    batch = [Example((10, 11, 12, 13, 14), 2, 1), Example((20, 21, 22), 2, 0)]
    inputs, targets = custom_collate_fn(batch, mask_instruction=True)
    assert inputs.tolist() == [[10, 11, 12, 13, 14], [20, 21, 22, 50256, 50256]]
    # targets predicting prompt tokens (positions 1..prompt-1) are ignored; the response and one end-of-text count
    assert targets.tolist() == [[-100, -100, 13, 14, 50256], [-100, 22, 50256, -100, -100]]
    unmasked = custom_collate_fn(batch)[1]
    assert int((unmasked != -100).sum()) == 5 + 3
    assert int((targets != -100).sum()) == 3 + 2


def test_mask_instruction_needs_examples():
    with pytest.raises(UserError, match="Examples"):
        custom_collate_fn([[1, 2, 3]], mask_instruction=True)
    with pytest.raises(UserError, match="empty"):
        custom_collate_fn([])


@pytest.mark.parametrize(("data", "message"), [
    ({"instruction": "x"}, "JSON list"),
    ([], "no records"),
    ([{"instruction": "a", "input": "", "output": "b"}, "text"], "record 1: expected an object"),
    ([{"instruction": "a", "output": "b"}], "record 0: the key 'input' is missing"),
    ([{"instruction": "a", "input": "", "output": 3}], "record 0: 'output' must be text"),
    ([{"instruction": " ", "input": "", "output": "b"}], "record 0: the 'instruction' is empty"),
])
def test_validate_records_names_record_and_key(data, message):
    with pytest.raises(InstructionDataError, match=message):
        validate_records(data)


def test_parse_records_rejects_broken_json():
    with pytest.raises(InstructionDataError, match="not valid JSON"):
        parse_records(b'[{"instruction": ')
    with pytest.raises(InstructionDataError, match="UTF-8"):
        parse_records(b"\xff\xfe[]")


def test_missing_data_is_unavailable_with_how_to(tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_JOURNAL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LLM_JOURNAL_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(Unavailable, match="instruction-data.json"):
        load_records()


def test_download_failure_is_unavailable_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_JOURNAL_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(Unavailable, match="could not download"):
        idata.download_records("http://127.0.0.1:9/instruction-data.json", timeout=1)
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.json"))


def test_the_book_file_splits_935_55_110(instruction_data_path):
    records = read_records(instruction_data_path)
    assert len(records) == 1100
    assert sum(1 for r in records if r["input"]) == 325
    splits = split_records(records)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (935, 55, 110)
    assert splits.train[0] == records[0]
    assert splits.test[0] == records[935]  # the book takes the test set before the validation set
    assert splits.val[0] == records[1045]


def test_dataset_parts_add_up_and_decode_to_the_prompt(gpt2_encoding):
    from core.gpt.tokenizers import decode

    entry = {"instruction": "Say <|endoftext|> twice.", "input": "please", "output": "Done."}
    example = InstructionDataset([entry]).examples[0]
    assert decode(example.ids) == format_input(entry) + format_response(entry)
    assert decode(example.ids[: example.prompt_tokens]) == format_input(entry)
    assert decode(example.ids[: example.instruction_tokens]).endswith("Say <|endoftext|> twice.")
    assert 50256 not in example.ids  # typed text, not the special token
    no_input = InstructionDataset([{**entry, "input": ""}]).examples[0]
    assert no_input.input_tokens == 0


def test_loaders_batch_and_pad_per_batch(instruction_data_path, gpt2_encoding):
    splits = split_records(read_records(instruction_data_path))
    loaders = create_instruction_loaders(splits, batch_size=8)
    assert len(loaders.train) == 935 // 8
    assert len(loaders.val) == 7 and len(loaders.test) == 14
    inputs, targets = next(iter(loaders.val))
    assert inputs.shape == targets.shape and inputs.shape[0] == 8
    lengths = [len(e.ids) for e in loaders.val.dataset.examples[:8]]
    assert inputs.shape[1] == max(lengths)
    assert int((targets != -100).sum()) == sum(lengths)


def test_json_round_trip_keeps_extra_keys(tmp_path):
    path = tmp_path / "d.json"
    path.write_text(json.dumps([{"instruction": "a", "input": "", "output": "b", "model_response": "c"}]))
    assert read_records(path)[0]["model_response"] == "c"
