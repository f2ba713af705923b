"""Experiments kept in the journal: what a widget did, with its settings, seed and key results.

An entry's front matter may hold an `experiments:` list, one record per experiment, for example

    experiments:
    - v: 1
      kind: generation
      title: 'Sampling: strict, seed 123'
      at: '2025-03-10T18:02:11Z'
      seed: 123
      settings: {model: random, prompt: Every effort moves you, temperature: 0.5, top_k: 5, tokens: 30}
      results: {text: Every effort moves you ...}

Records are flat (settings and results map names to plain values), so they stay readable and fit the
front matter's nesting limit. The records have a size budget of their own (`MAX_EXPERIMENTS_CHARS`), on
top of the 10,000 characters the other fields may use. A record that does not validate is kept in the
file as it is and reported as a warning on its entry.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from core.errors import UserError

VERSION = 1
KINDS = {
    "pretraining": "Pretraining run",
    "spam": "Spam-classifier run",
    "generation": "Generation",
    "tokenizer": "Tokenized text",
    "attention": "Attention view",
    "parameters": "Parameter configuration",
}
MAX_EXPERIMENTS = 20  # per entry
MAX_FIELDS = 24  # per settings or results mapping
MAX_NAME_CHARS = 40
MAX_TEXT_CHARS = 1_500  # a generated text, a prompt: longer text is cut by the widget before recording
MAX_RECORD_CHARS = 4_000  # one record as YAML
MAX_EXPERIMENTS_CHARS = MAX_EXPERIMENTS * MAX_RECORD_CHARS  # the whole `experiments:` block of an entry, as text
Scalar = str | int | float | bool | None


class ExperimentError(UserError):
    """An experiment record that cannot be kept; the message says what is wrong."""


@dataclass(frozen=True)
class Experiment:
    """One experiment as recorded in an entry."""

    kind: str
    title: str
    settings: Mapping[str, Scalar] = field(default_factory=dict)
    results: Mapping[str, Scalar] = field(default_factory=dict)
    seed: int | None = None
    run: str | None = None  # the run folder's name, for training runs
    at: str = ""  # when it was recorded, UTC, ISO 8601

    @property
    def label(self) -> str:
        return KINDS.get(self.kind, self.kind)


def cut(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    """`text` shortened to fit a record, marked with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def now_utc() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def to_front(record: Experiment) -> dict[str, Any]:
    """The record as it is written in front matter (checked first)."""
    check(record)
    data: dict[str, Any] = {"v": VERSION, "kind": record.kind, "title": record.title}
    if record.at:
        data["at"] = record.at
    if record.run:
        data["run"] = record.run
    if record.seed is not None:
        data["seed"] = record.seed
    if record.settings:
        data["settings"] = dict(record.settings)
    if record.results:
        data["results"] = dict(record.results)
    return data


def from_front(data: Any, number: int = 1) -> Experiment:
    """A record read from front matter; `ExperimentError` saying what is wrong with it."""
    where = f"experiment {number}"
    if not isinstance(data, dict):
        raise ExperimentError(f"{where} is not a record of 'name: value' fields")
    if data.get("v") != VERSION:
        raise ExperimentError(f"{where} has version {data.get('v')!r}; this app reads version {VERSION} (v: 1)")
    unknown = sorted(str(k) for k in data if k not in ("v", "kind", "title", "at", "run", "seed", "settings",
                                                         "results"))
    if unknown:
        raise ExperimentError(f"{where} has unknown fields {', '.join(unknown)}")
    at = data.get("at") or ""
    if isinstance(at, dt.datetime):  # written by hand without quotes: YAML reads it as a time
        at = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    record = Experiment(
        kind=data.get("kind"),
        title=data.get("title") if data.get("title") is not None else "",
        settings=data.get("settings") or {},
        results=data.get("results") or {},
        seed=data.get("seed"),
        run=data.get("run"),
        at=at,
    )
    check(record, where)
    return record


def check(record: Experiment, where: str = "the experiment") -> None:
    """Refuse a record that would not read back, or is too large for an entry."""
    if record.kind not in KINDS:
        raise ExperimentError(f"{where} has kind {record.kind!r}; known kinds: {', '.join(KINDS)}")
    if not isinstance(record.title, str) or len(record.title) > 200:
        raise ExperimentError(f"{where} needs a title of at most 200 characters")
    if record.seed is not None and (isinstance(record.seed, bool) or not isinstance(record.seed, int)):
        raise ExperimentError(f"{where} has seed {record.seed!r}; a seed is a whole number")
    if record.run is not None and (not isinstance(record.run, str) or len(record.run) > MAX_NAME_CHARS):
        raise ExperimentError(f"{where} names its run with {record.run!r}, not a run name")
    if not isinstance(record.at, str) or len(record.at) > MAX_NAME_CHARS:
        raise ExperimentError(f"{where} has a recording time that is not a time")
    for name, values in (("settings", record.settings), ("results", record.results)):
        _check_values(values, f"{where}'s {name}")
    size = len(yaml.safe_dump(_plain(record), allow_unicode=True, width=1000))
    if size > MAX_RECORD_CHARS:
        raise ExperimentError(f"{where} takes {size:,} characters; a record may take {MAX_RECORD_CHARS:,}")


def _plain(record: Experiment) -> dict[str, Any]:
    return {"kind": record.kind, "title": record.title, "settings": dict(record.settings),
            "results": dict(record.results), "seed": record.seed, "run": record.run, "at": record.at}


def _check_values(values: Any, where: str) -> None:
    if not isinstance(values, Mapping):
        raise ExperimentError(f"{where} must be 'name: value' fields")
    if len(values) > MAX_FIELDS:
        raise ExperimentError(f"{where} has {len(values)} fields; at most {MAX_FIELDS}")
    for name, value in values.items():
        if not isinstance(name, str) or not name or len(name) > MAX_NAME_CHARS:
            raise ExperimentError(f"{where} has a field name {name!r}; names are short words")
        if isinstance(value, float) and not math.isfinite(value):
            raise ExperimentError(f"{where}: {name} is {value}, not a number that can be kept")
        if isinstance(value, str) and len(value) > MAX_TEXT_CHARS:
            raise ExperimentError(f"{where}: {name} has {len(value):,} characters; at most {MAX_TEXT_CHARS:,}")
        if value is not None and not isinstance(value, (str, int, float, bool)):
            raise ExperimentError(f"{where}: {name} must be a plain value (text, number, true/false), "
                                  f"got {type(value).__name__}")


def read_all(value: Any) -> tuple[tuple[Experiment, ...], tuple[str, ...]]:
    """The valid records of an `experiments:` field and a problem for each one that is not."""
    if value is None:
        return (), ()
    if not isinstance(value, list):
        return (), ("experiments must be a list of records; the field is ignored",)
    records, problems = [], []
    for number, item in enumerate(value, start=1):
        try:
            records.append(from_front(item, number))
        except ExperimentError as err:
            problems.append(f"{err}; it is kept in the file but not shown")
    if len(value) > MAX_EXPERIMENTS:
        problems.append(f"{len(value)} experiments; an entry keeps at most {MAX_EXPERIMENTS}")
    return tuple(records), tuple(problems)


def appended(existing: Any, record: Experiment) -> list[Any]:
    """The `experiments:` list with `record` added; records already there, readable or not, are kept as they are."""
    if existing is None:
        existing = []
    if not isinstance(existing, list):
        raise ExperimentError("this entry's experiments field is not a list; fix it by hand before adding to it")
    if len(existing) >= MAX_EXPERIMENTS:
        raise ExperimentError(f"this entry already keeps {len(existing)} experiments, the most an entry holds; "
                              "add this one to another day")
    return [*existing, to_front(record)]


def block_span(front: str) -> tuple[int, int] | None:
    """Where the top-level `experiments:` field is in a front matter's text (start, end), if anywhere.

    The field runs from its `experiments:` line to the next line that starts another top-level field.
    Found on the text, before YAML reads it, so the field's own size budget is checked first.
    """
    lines = front.splitlines(keepends=True)
    start = end = None
    offset = 0
    for line in lines:
        if start is None and (line.startswith("experiments:") or line.startswith("'experiments':")):
            start = offset
        elif start is not None and end is None and line[:1] not in ("", " ", "\t", "-", "#", "\n", "\r"):
            end = offset
        offset += len(line)
    if start is None:
        return None
    return start, offset if end is None else end


def format_block(records: Sequence[Any]) -> str:
    """The `experiments:` field as YAML text (block style, one record after another)."""
    if not records:
        return ""
    data = {"experiments": list(records)}
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100, default_flow_style=None)
    if yaml.safe_load(text) != data:  # a character PyYAML writes as is but reads back as another (U+2028)
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=False, width=100, default_flow_style=None)
    return text
