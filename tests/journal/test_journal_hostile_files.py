"""Hostile or mistyped entry files: each one becomes one problem, quickly and in little memory."""

from __future__ import annotations

import contextlib
import itertools
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.journal import entries, store

BAD_DATES = ["2025-02-30", "2025-02-29", "2025-13-01", "2025-04-31", "2025-00-10", "2025-02-28T25:00:00"]


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """A few hundred bytes of YAML that stand for width**levels strings once expanded."""
    names = [f"l{i}" for i in range(levels)]
    lines = [f"{names[0]}: &{names[0]} [{', '.join(['lol'] * width)}]"]
    lines += [f"{name}: &{name} [{', '.join([f'*{prev}'] * width)}]" for prev, name in itertools.pairwise(names)]
    return "\n".join([*lines, f"title: *{names[-1]}", "day: 23"])


HOSTILE_FRONT_MATTER = {
    **{f"date {d}": f"day: 23\ndate: {d}" for d in BAD_DATES},
    "alias bomb": alias_bomb(),
    "nested 10,000 deep": "day: 23\nx: " + "[" * 10_000 + "]" * 10_000,
    "nested deep within the size limit": "day: 23\nx: " + "[" * 4_000 + "]" * 4_000,
    "block mappings nested deep": "day: 23\n" + "".join(" " * i + f"k{i}:\n" for i in range(120)),
    "a binary number without digits": "day: 0b_",
    "an explicit tag": "day: !!int twenty",
    "an explicit bool tag": "day: 23\ntitle: !!bool maybe",
}
MESSAGES = {
    "alias bomb": "alias", "nested 10,000 deep": "the limit is", "nested deep within the size limit": "nested",
    "block mappings nested deep": "nested", "an explicit tag": "YAML tag", "an explicit bool tag": "YAML tag",
    "a binary number without digits": "cannot be read",
}


def bad_file(front: str) -> str:
    return f"---\n{front}\n---\n\nA note.\n"


@pytest.mark.timeout(10)
@pytest.mark.parametrize("name", list(HOSTILE_FRONT_MATTER))
def test_hostile_front_matter_is_one_clear_error(name):
    tracemalloc.start()
    try:
        with pytest.raises(entries.JournalError, match=MESSAGES.get(name, "real calendar day")):
            entries.parse_entry(bad_file(HOSTILE_FRONT_MATTER[name]))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000  # bytes: refused before anything large is built


@pytest.mark.timeout(10)
@pytest.mark.parametrize("name", list(HOSTILE_FRONT_MATTER))
def test_load_journal_turns_a_hostile_file_into_one_problem(tmp_path, name):
    (tmp_path / "day-01.md").write_text(entries.format_entry(day=1, body="Fine."), encoding="utf-8")
    (tmp_path / "day-23.md").write_text(bad_file(HOSTILE_FRONT_MATTER[name]), encoding="utf-8")
    journal = store.load_journal(tmp_path)
    assert [e.day for e in journal.entries] == [1]
    assert [p.source for p in journal.problems] == ["day-23.md"]


def test_real_dates_and_anchors_without_aliases_still_read():
    entry = entries.parse_entry(bad_file("day: 23\ndate: 2024-02-29\ntopics: &t [a, b]"))
    assert str(entry.date) == "2024-02-29" and entry.topics == ("a", "b")
    assert str(entries.parse_entry(bad_file("day: 2\ndate: '2025-03-07'")).date) == "2025-03-07"
    assert str(entries.parse_entry(bad_file("day: 2\ndate: 2025-03-07 10:30:00")).date) == "2025-03-07"


YAMLISH = st.text(alphabet=st.sampled_from(list("day:0123456789-T[]{}&*!,.'\"#|>? \n_bxe")), max_size=120)


@settings(max_examples=300, deadline=None)
@given(front=YAMLISH)
def test_any_front_matter_reads_or_fails_with_a_journal_error(front):
    with contextlib.suppress(entries.JournalError):
        entries.parse_entry(bad_file(front))
