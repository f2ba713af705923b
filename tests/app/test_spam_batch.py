"""Testing a classifier on a CSV file: reading it, classifying every row, writing the results."""

from __future__ import annotations

import csv
import io

import pandas as pd
import pytest
import torch

from core.app import spam_batch as sb
from core.gpt.classifier import GPTClassifier
from core.gpt.model import GPTModel


@pytest.fixture(scope="module")
def classifier() -> GPTClassifier:
    torch.manual_seed(0)
    gpt = GPTModel({"vocab_size": 50257, "context_length": 8, "emb_dim": 16, "n_heads": 2, "n_layers": 1})
    return GPTClassifier(gpt).eval()


def test_columns_are_found_by_name_whatever_their_case_and_order():
    batch = sb.read_batch_csv("x.csv", b'Label,Message\nham,"Hi, see you at 6"\nSPAM,WIN cash now\n,unlabelled one\n')
    assert batch.texts == ["Hi, see you at 6", "WIN cash now", "unlabelled one"]
    assert batch.labels == ["ham", "spam", ""]
    assert (batch.text_column, batch.label_column) == ("Message", "Label")
    kaggle = sb.read_batch_csv("spam.csv", "v1,v2\nham,Ok lar...\n".encode("utf-8-sig"))
    assert kaggle.texts == ["Ok lar..."] and kaggle.labels == ["ham"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"id,body\n1,hello\n", "no column of messages"),
        (b"a;b\n1;2\n", "Columns found: 'a;b'"),
        (b"text\n", "no messages"),
        (b"", "is empty"),
        (b"text\n\xff\xfe\n", "not UTF-8"),
        (b'text\n"never closed\n', "not a readable CSV"),
        (b"text,label\nhi,maybe\n", "line 2: 'maybe'"),
        (b"text\n" + b"m\n" * (sb.MAX_ROWS + 1), "the limit is 2,000"),
        (b"text\n" + b"x" * (sb.MAX_CSV_MB * 1024 * 1024), "the limit is 2 MB"),
    ],
)
def test_bad_files_raise_a_typed_error_saying_what_to_fix(data, message):
    with pytest.raises(sb.BatchFileError, match=message):
        sb.read_batch_csv("../uploads/f.csv", data)


def test_every_row_gets_a_result_and_bad_rows_a_note(classifier):
    long_message = "win a big cash prize now and please call us back today"
    batch = sb.read_batch_csv("x.csv", f"text,label\nhello there,ham\n   ,spam\n{long_message},spam\n".encode())
    rows = list(sb.classify_batch(classifier, batch))
    assert [r["message"] for r in rows] == ["hello there", "   ", long_message]
    assert rows[0]["prediction"] in ("ham", "spam") and 0 <= rows[0]["spam_probability"] <= 1
    assert rows[1]["prediction"] == "" and "empty" in rows[1]["note"] and rows[1]["correct"] is None
    assert "first 8 tokens" in rows[2]["note"]  # longer than the classifier's context
    right, judged = sb.batch_accuracy(rows)
    assert judged == 2 and right == sum(r["correct"] is True for r in rows)
    assert sb.batch_accuracy(list(sb.classify_batch(classifier, sb.Batch(["hi"], None, "text", None)))) is None


def test_results_csv_round_trips_and_defuses_formulas():
    rows = [{"message": "=HYPERLINK(\"http://evil\")", "prediction": "spam", "spam_probability": 0.9, "note": ""},
            {"message": "plain, with comma", "prediction": "ham", "spam_probability": 0.1, "note": ""}]
    table = pd.read_csv(io.BytesIO(sb.results_csv(rows)), keep_default_na=False)
    assert table["message"].tolist() == ["'=HYPERLINK(\"http://evil\")", "plain, with comma"]
    assert table["spam_probability"].tolist() == [0.9, 0.1]


HOSTILE = [
    "\r=cmd|' /C calc'!A0",
    "\n=1+1",
    "  =SUM(A1:A9)",
    "\t@SUM(1)",
    "\u3000+1",  # an ideographic space first
    "\uff1dcmd|' /C calc'!A0",  # full-width equals
    "\uff0b1",
    "\uff0d1",
    "\uff20SUM(1)",
    "|cmd",
    "-2+3",
    "line one\r\nline two",
]


def _cells(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def test_no_cell_of_the_results_csv_can_run_as_a_formula():
    rows = [{"message": m, "prediction": "spam", "spam_probability": 0.5, "note": ""} for m in HOSTILE]
    data = sb.results_csv(rows)
    cells = _cells(data)
    assert cells[0] == ["message", "prediction", "spam_probability", "note"]
    assert [row[0] for row in cells[1:]] == [m if m == "line one\r\nline two" else "'" + m for m in HOSTILE]
    for row in cells:
        for cell in row:
            assert not cell.lstrip().startswith(sb.FORMULA_STARTS), row
    table = pd.read_csv(io.BytesIO(data), keep_default_na=False)
    assert table["message"].tolist() == [row[0] for row in cells[1:]]
    assert table["spam_probability"].tolist() == [0.5] * len(HOSTILE)
    # A reader that ends lines at a bare carriage return still sees one row per message.
    by_cr = data.decode("utf-8").replace("\r\n", "\n")
    assert len(list(csv.reader(io.StringIO(by_cr, newline="")))) == len(HOSTILE) + 1


def test_every_cell_is_quoted():
    data = sb.results_csv([{"message": "\r=1", "prediction": "ham", "spam_probability": 0.25, "note": ""}])
    header, row = data.decode("utf-8").split("\r\n", 1)[0], data.decode("utf-8").split("\r\n")[1]
    assert header == '"message","prediction","spam_probability","note"'
    assert row == '"\'\r=1","ham","0.25",""'


@pytest.mark.parametrize("value", ["hello", "it's -ok-", "5 = five", "", "a@b.c"])
def test_ordinary_text_is_left_alone(value):
    assert sb.neutralise(value) == value
