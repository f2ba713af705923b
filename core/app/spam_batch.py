"""Testing a spam classifier on a whole CSV file of messages (book section 6.8, many at once).

The file needs a column of messages (`text`, `message`, `sms` or the Kaggle copy's `v2`); a
label column (`label`, `class`, `category` or `v1`, holding ham or spam) is optional and, when
present, the result says which predictions were right. The result is a CSV again, with cells
that a spreadsheet would run as formulas neutralised.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from core.errors import UserError
from core.gpt.classifier import ClassifierInputError, GPTClassifier, classify
from core.gpt.spam_data import LABELS
from core.gpt.tokenizers import InvalidText, TextTooLong

MAX_CSV_MB = 2
MAX_ROWS = 2_000
TEXT_COLUMNS = ("text", "message", "sms", "v2")
LABEL_COLUMNS = ("label", "class", "category", "v1")
# What a spreadsheet may run as a formula or command when a cell starts with it (OWASP's CSV injection
# advice, with the full-width forms some spreadsheets also accept); checked after leading whitespace too.
FORMULA_STARTS = ("=", "+", "-", "@", "|", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20", "\uff5c")


class BatchFileError(UserError):
    """A CSV file that cannot be tested: too big, not UTF-8, not a table, or without a message column."""


@dataclass(frozen=True)
class Batch:
    """Messages to classify, with their true labels when the file has them."""

    texts: list[str]
    labels: list[str] | None
    text_column: str
    label_column: str | None


def read_batch_csv(name: str, data: bytes, max_mb: int = MAX_CSV_MB, max_rows: int = MAX_ROWS) -> Batch:
    """Parse an uploaded CSV; `BatchFileError` says what is wrong and what the file should look like."""
    shown = repr(Path(name).name[:80])
    if len(data) > max_mb * 1024 * 1024:
        raise BatchFileError(f"{shown} has {len(data) / 1024 / 1024:.1f} MB; the limit is {max_mb} MB.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise BatchFileError(f"{shown} is not UTF-8 text (byte {err.start:,}): save it as UTF-8 CSV.") from None
    if not text.strip():
        raise BatchFileError(f"{shown} is empty.")
    try:
        table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, csv.Error, ValueError) as err:
        raise BatchFileError(f"{shown} is not a readable CSV table ({err}).") from None
    columns = {str(c).strip().lower(): c for c in table.columns}
    text_column = next((columns[c] for c in TEXT_COLUMNS if c in columns), None)
    if text_column is None:
        found = ", ".join(repr(str(c)) for c in list(table.columns)[:10]) or "none"
        raise BatchFileError(
            f"{shown} has no column of messages. Name it one of {', '.join(TEXT_COLUMNS)} "
            f"(an optional label column: {', '.join(LABEL_COLUMNS)}). Columns found: {found}."
        )
    if len(table) == 0:
        raise BatchFileError(f"{shown} has a header but no messages.")
    if len(table) > max_rows:
        raise BatchFileError(f"{shown} has {len(table):,} messages; the limit is {max_rows:,} per file.")
    label_column = next((columns[c] for c in LABEL_COLUMNS if c in columns), None)
    labels = None
    if label_column is not None:
        labels = [value.strip().lower() for value in table[label_column]]
        bad = [(row + 2, value) for row, value in enumerate(labels) if value and value not in LABELS]
        if bad:
            listed = ", ".join(f"line {line}: {value[:20]!r}" for line, value in bad[:5])
            raise BatchFileError(f"{shown}: labels must be ham or spam (or empty); found {listed}.")
    return Batch(
        texts=list(table[text_column]),
        labels=labels,
        text_column=str(text_column),
        label_column=None if label_column is None else str(label_column),
    )


def classify_batch(
    classifier: GPTClassifier, batch: Batch, encode: Callable[[str], list[int]] | None = None
) -> Iterator[dict[str, Any]]:
    """One result row per message, in order; a message that cannot be classified gets a note instead."""
    for index, text in enumerate(batch.texts):
        row: dict[str, Any] = {"message": text}
        truth = batch.labels[index] if batch.labels else ""
        try:
            prediction = classify(classifier, text, encode)
        except (ClassifierInputError, TextTooLong, InvalidText) as err:
            row.update(prediction="", spam_probability=None, note=str(err))
        else:
            note = f"only the first {prediction.tokens_used} tokens were read" if prediction.truncated else ""
            row.update(prediction=prediction.label, spam_probability=prediction.probabilities["spam"], note=note)
        if batch.labels is not None:
            row["label"] = truth
            row["correct"] = (row["prediction"] == truth) if truth and row["prediction"] else None
        yield row


def batch_accuracy(rows: list[dict[str, Any]]) -> tuple[int, int] | None:
    """(right, judged) over the rows that have both a label and a prediction."""
    judged = [r["correct"] for r in rows if r.get("correct") is not None]
    return (sum(judged), len(judged)) if judged else None


def neutralise(value: Any) -> Any:
    """A text cell that a spreadsheet would run, behind a leading quote; anything else unchanged."""
    if isinstance(value, str) and (value.startswith(FORMULA_STARTS) or value.lstrip().startswith(FORMULA_STARTS)):
        return "'" + value
    return value


def results_csv(rows: list[dict[str, Any]]) -> bytes:
    """The results as UTF-8 CSV, every cell quoted (so a line break inside a message stays inside its
    cell for any reader) and every cell a spreadsheet would run as a formula neutralised."""
    table = pd.DataFrame(rows).map(neutralise)
    return table.to_csv(index=False, quoting=csv.QUOTE_ALL, lineterminator="\r\n").encode("utf-8")
