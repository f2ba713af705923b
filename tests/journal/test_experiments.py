"""Experiment records in entries: round trip through front matter without touching the note, malformed records."""

from __future__ import annotations

import pytest

from core.journal import entries, store, versions
from core.journal import experiments as exp

HAND_WRITTEN = """---
day: 3
title: "Hand-written: quotes kept"   # a comment kept too
topics: [tokens,   bytes]
---

# The note

Text with trailing spaces   \r
and a CRLF line.\r
"""


def record(**changes) -> exp.Experiment:
    fields = {"kind": "generation", "title": "Generation (temperature 0.5, seed 123)", "seed": 123,
              "settings": {"model": "random", "prompt": "Every effort", "temperature": 0.5, "top_k": 5},
              "results": {"text": "Every effort moves you\nwith: 'quotes' and \u2028 a separator"}}
    return exp.Experiment(**{**fields, **changes})


def test_adding_records_keeps_every_other_byte_and_a_version(tmp_path):
    (tmp_path / "day-03.md").write_bytes(HAND_WRITTEN.encode())
    store.add_experiment(tmp_path, 3, record())
    store.add_experiment(tmp_path, 3, record(seed=7))
    text = (tmp_path / "day-03.md").read_bytes().decode()
    front_lines = HAND_WRITTEN.split("---")[1]
    assert text.startswith("---" + front_lines)  # the hand-written fields, comments and spacing as they were
    assert text.endswith(HAND_WRITTEN.split("---\n", 2)[2])  # the note byte for byte, CRLF included
    entry = store.load_journal(tmp_path).entries[0]
    assert [r.seed for r in entry.experiments] == [123, 7]
    assert entry.experiments[0].results == record().results  # the U+2028 survives
    assert entry.experiments[0].at  # recorded when added
    kept = versions.list_versions(tmp_path, day=3)
    assert len(kept) == 2 and kept[-1].path.read_bytes() == HAND_WRITTEN.encode()


def test_saving_an_entry_on_the_form_keeps_its_records(tmp_path):
    text = entries.format_entry(day=2, body="Note.", experiments=[record()])
    entry = entries.parse_entry(text)
    again = entries.format_entry(day=2, body="Changed.", experiments=entry.experiment_data)
    assert entries.parse_entry(again).experiments == entry.experiments


@pytest.mark.parametrize(("bad", "message"), [
    ("- {v: 2, kind: generation, title: x}", "version"),
    ("- {v: 1, kind: séance, title: x}", "kind"),
    ("- {v: 1, kind: generation, title: x, seed: lots}", "seed"),
    ("- {v: 1, kind: generation, title: x, settings: {a: [1, 2]}}", "plain value"),
    ("- {v: 1, kind: generation, title: x, extra: 1}", "unknown"),
    ("- just text", "record"),
    ("not a list", "list"),
])
def test_a_malformed_record_is_a_warning_and_the_entry_still_reads(bad, message):
    good = "- {v: 1, kind: attention, title: fine}"
    text = f"---\nday: 4\nexperiments:\n{good}\n{bad}\n---\n\nThe note.\n" if bad.startswith("-") else \
        f"---\nday: 4\nexperiments: {bad}\n---\n\nThe note.\n"
    entry = entries.parse_entry(text)
    assert entry.body == "The note." and not entry.warnings
    assert message in " ".join(entry.experiment_warnings)
    if bad.startswith("-"):
        assert [r.title for r in entry.experiments] == ["fine"] and len(entry.experiment_data) == 2


def test_malformed_records_are_kept_when_another_is_added(tmp_path):
    text = "---\nday: 4\nexperiments:\n- {v: 9, kind: odd}\n---\n\nThe note.\n"
    (tmp_path / "day-04.md").write_text(text)
    store.add_experiment(tmp_path, 4, record())
    entry = store.load_journal(tmp_path).entries[0]
    assert entry.experiment_data[0] == {"v": 9, "kind": "odd"} and len(entry.experiments) == 1


def test_records_are_bounded_in_size_and_number(tmp_path):
    with pytest.raises(exp.ExperimentError, match="characters"):
        exp.to_front(record(results={"text": "x" * (exp.MAX_TEXT_CHARS + 1)}))
    with pytest.raises(exp.ExperimentError, match="fields"):
        exp.to_front(record(settings={f"k{i}": i for i in range(exp.MAX_FIELDS + 1)}))
    with pytest.raises(exp.ExperimentError, match="number"):
        exp.to_front(record(results={"loss": float("nan")}))
    (tmp_path / "day-05.md").write_text(entries.format_entry(day=5, body="Note."))
    big = record(results={"text": "y" * exp.MAX_TEXT_CHARS})
    for _ in range(exp.MAX_EXPERIMENTS):
        store.add_experiment(tmp_path, 5, big)
    with pytest.raises(exp.ExperimentError, match="already keeps"):
        store.add_experiment(tmp_path, 5, big)
    entry = store.load_journal(tmp_path).entries[0]  # the full budget still reads
    assert len(entry.experiments) == exp.MAX_EXPERIMENTS


def test_the_other_fields_keep_their_own_limit():
    padding = "x" * (entries.MAX_FRONT_MATTER_CHARS + 10)
    with pytest.raises(entries.JournalError, match="the limit is 10,000"):
        entries.parse_entry(f"---\nday: 1\ntitle: {padding}\nexperiments: []\n---\n\nNote.\n")


def test_adding_to_a_missing_entry_says_what_to_do(tmp_path):
    with pytest.raises(entries.JournalError, match="no entry yet"):
        store.add_experiment(tmp_path, 9, record())
