"""The journal: parsing, validation, safe display, atomic writes and progress figures."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.atomic import leftover_temporaries
from core.journal import book, entries, progress, store, versions
from core.paths import PROJECT_ROOT

JOURNEY = PROJECT_ROOT.parent / "shared" / "journey.md"


def entry_text(front: str, body: str = "Read some pages.") -> str:
    return f"---\n{front}\n---\n\n{body}\n"


def write(directory: Path, name: str, text: str | bytes) -> Path:
    path = directory / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


@pytest.fixture
def real_journal() -> entries.Journal:
    return store.load_journal(PROJECT_ROOT / "journal")


# ---------------------------------------------------------------------------------------------
# The starter journal


def test_starter_journal_reads_cleanly(real_journal):
    assert real_journal.problems == ()
    assert [e.day for e in real_journal.entries] == [*range(1, 17), 20, 21, 22]
    for entry in real_journal.entries:
        assert entry.warnings == (), (entry.source, entry.warnings)
        assert entry.page is not None and entry.chapters and entry.body
        assert entry.hours == progress.planned_hours(entry.weekday)  # the plan's figure: hours were not recorded
    assert real_journal.entry_for(1).weekday == "Thursday"
    assert real_journal.entry_for(20).weekday == "Tuesday"


def test_starter_journal_pairs_widgets_with_the_right_days(real_journal):
    widgets = {e.day: e.widgets for e in real_journal.entries}
    assert "tokenizer" in widgets[5]  # byte-pair encoding
    assert "parameters" in widgets[14]  # where the parameters live
    assert "sampling" in widgets[20]  # temperature and top-k
    assert "spam" in widgets[21]


@pytest.mark.skipif(not JOURNEY.is_file(), reason=f"needs {JOURNEY}")
def test_starter_journal_does_not_copy_sentences_from_the_facts():
    facts = JOURNEY.read_text(encoding="utf-8")
    phrases = {p.strip().lower() for p in re.split(r"[.;:|()\n]", facts) if len(p.strip()) >= 40}
    for path in sorted((PROJECT_ROOT / "journal").glob("day-*.md")):
        text = " ".join(path.read_text(encoding="utf-8").lower().split())
        copied = [p for p in phrases if " ".join(p.split()) in text]
        assert not copied, (path.name, copied)


# ---------------------------------------------------------------------------------------------
# Parsing and validation


def test_parse_full_entry():
    entry = entries.parse_entry(entry_text(
        "day: 5\nweekday: mon\ndate: 2025-03-10\ntitle: Byte pairs\nchapters: [chapter 2, Appendix a]\n"
        "page: 41\nhours: 1.5\ntopics: BPE, tokens\nwidgets: [Tokenizer]"
    ), source="day-05.md")
    assert entry.day == 5 and entry.weekday == "Monday" and entry.date == dt.date(2025, 3, 10)
    assert entry.chapters == ("Chapter 2", "Appendix A")
    assert (entry.page, entry.hours) == (41, 1.5)
    assert entry.topics == ("bpe", "tokens")
    assert entry.widgets == ("tokenizer",)
    assert entry.heading == "Day 5 · Monday: Byte pairs"
    assert entry.body == "Read some pages."
    assert entry.warnings == ()


def test_body_may_contain_fence_lines_and_bom():
    entry = entries.parse_entry("\ufeff" + entry_text("day: 2", "Above\n\n---\n\nday: 99\n---\nBelow"))
    assert entry.day == 2
    assert "day: 99" in entry.body and entry.body.endswith("Below")


@pytest.mark.parametrize(
    "text, message",
    [
        ("day: 5\n\nNo fences.", "no front matter"),
        (entry_text("weekday: Monday"), "no 'day'"),
        (entry_text("day: [5"), "not valid YAML at line"),
        (entry_text("day: 5\n  page: : 4"), "not valid YAML"),
        (entry_text("- day\n- 5"), "'key: value'"),
        (entry_text("day: five"), "day must be a whole number"),
        (entry_text("day: true"), "day must be a whole number"),
        (entry_text("day: 5.0"), "day must be a whole number"),
        (entry_text("day: 0"), "between 1 and"),
        (entry_text("day: 1000"), "between 1 and"),
        (entry_text("day: 5\npage: forty"), "page must be a whole number"),
        (entry_text("day: 5\npage: '41'"), "page must be a whole number"),
        (entry_text("day: 5\npage: -3"), "page must be between"),
        (entry_text("day: 5\nhours: lots"), "hours must be a number"),
        (entry_text("day: 5\nhours: 25"), "hours must be between 0 and 24"),
        (entry_text("day: 5\nhours: .nan"), "hours must be a number"),
        (entry_text("day: 5\ndate: 10/03/2025"), "date must look like"),
        (entry_text("day: 5\ntopics: {a: 1}"), "topics must be a list"),
        (entry_text("day: 5\ntopics: [[nested]]"), "plain words"),
    ],
)
def test_malformed_entries_raise_a_clear_error(text, message):
    with pytest.raises(entries.JournalError, match=re.escape(message) if "YAML at" not in message else message):
        entries.parse_entry(text)


def test_soft_problems_are_warnings_not_errors():
    entry = entries.parse_entry(entry_text(
        "day: 5\nweekday: Thorsday\nchapters: [Preface]\nwidgets: [Tokenizer, telepathy, two words]\nmood: happy"
    ))
    assert entry.widgets == ("tokenizer", "telepathy")  # which names exist is for the UI to say
    assert entry.weekday == ""  # filled from the day number when the journal loads
    text = " | ".join(entry.warnings)
    for part in ("widget 'two words' is not a name", "'Preface'", "'Thorsday'", "unknown field 'mood'"):
        assert part in text


@pytest.mark.parametrize("day, name", [(1, "day-01.md"), (22, "day-22.md"), (123, "day-123.md")])
def test_entry_filename(day, name):
    assert entries.entry_filename(day) == name


@pytest.mark.parametrize("day", [0, -1, 1000, "5", "../etc/passwd", True, 5.0, None])
def test_entry_filename_rejects_anything_but_a_day_number(day):
    with pytest.raises(entries.JournalError):
        entries.entry_filename(day)


# ---------------------------------------------------------------------------------------------
# Loading a folder


def test_load_journal_reports_broken_files_and_keeps_the_rest(tmp_path):
    write(tmp_path, "day-01.md", entry_text("day: 1\nweekday: Thursday\npage: 261\nchapters: [Appendix A]"))
    write(tmp_path, "day-02.md", entry_text("day: 2\npage: [oops"))
    write(tmp_path, "day-03.md", entry_text("day: 3\npage: three"))
    write(tmp_path, "day-04.md", entry_text("weekday: Sunday"))
    write(tmp_path, "day-05.md", entry_text("day: 5"))
    write(tmp_path, "copy-of-day-05.md", entry_text("day: 5"))
    write(tmp_path, "day-06.md", b"---\nday: 6\n---\n\n\xff\xfe not utf-8")
    write(tmp_path, "day-07.md", entry_text("day: 7", "x" * (entries.MAX_FILE_BYTES + 1)))
    write(tmp_path, "README.md", "# About this folder\n")
    write(tmp_path, "notes.txt", "not an entry")

    journal = store.load_journal(tmp_path)

    assert [e.day for e in journal.entries] == [1, 5]
    assert journal.entry_for(5).source == "day-05.md"  # the file named after the day wins
    problems = {p.source: p.message for p in journal.problems}
    assert set(problems) == {"copy-of-day-05.md", "day-02.md", "day-03.md", "day-04.md", "day-06.md", "day-07.md"}
    assert "duplicate day 5" in problems["copy-of-day-05.md"]
    assert "YAML" in problems["day-02.md"]
    assert "page must be a whole number" in problems["day-03.md"]
    assert "no 'day'" in problems["day-04.md"]
    assert "UTF-8" in problems["day-06.md"]
    assert "at most" in problems["day-07.md"]


def test_load_journal_checks_weekdays_and_file_names(tmp_path):
    write(tmp_path, "day-01.md", entry_text("day: 1\nweekday: Monday"))
    write(tmp_path, "day-02.md", entry_text("day: 2"))
    write(tmp_path, "day-03.md", entry_text("day: 3\nweekday: Friday"))
    write(tmp_path, "day-4.md", entry_text("day: 4"))
    journal = store.load_journal(tmp_path)
    assert journal.first_weekday == "Monday"
    assert journal.entry_for(2).weekday == "Tuesday" and journal.entry_for(2).warnings == ()
    assert "does not match day 3, which is a Wednesday" in journal.entry_for(3).warnings[0]
    assert "file name should be day-04.md" in journal.entry_for(4).warnings[0]


def test_load_journal_of_a_missing_folder_is_empty(tmp_path):
    assert store.load_journal(tmp_path / "nowhere") == entries.Journal()


def test_journal_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("LLM_JOURNAL_DIR", str(tmp_path))
    assert store.journal_dir() == tmp_path
    monkeypatch.delenv("LLM_JOURNAL_DIR")
    assert store.journal_dir() == PROJECT_ROOT / "journal"


# ---------------------------------------------------------------------------------------------
# Writing


def test_format_entry_round_trips():
    text = entries.format_entry(
        day=23, body="Chapter 6 evaluation.\r\n\r\nAccuracy 95 %.", title="Evaluating",
        date=dt.date(2025, 3, 28), chapters=["Chapter 6"], page=210, hours=2, topics=["evaluation"],
        widgets=["spam"],
    )
    assert text.startswith("---\nday: 23\nweekday: Friday\n")
    assert "hours: 2\n" in text and "\r" not in text
    entry = entries.parse_entry(text)
    assert (entry.day, entry.title, entry.date) == (23, "Evaluating", dt.date(2025, 3, 28))
    assert (entry.page, entry.hours) == (210, 2.0)
    assert entry.chapters == ("Chapter 6",) and entry.topics == ("evaluation",) and entry.widgets == ("spam",)
    assert entry.body == "Chapter 6 evaluation.\n\nAccuracy 95 %."


def test_format_entry_keeps_yaml_lookalikes_as_plain_text():
    text = entries.format_entry(day=3, title="day: 99\n---", topics=["a: b", "- c", "---"], body="---\nday: 42\n---")
    entry = entries.parse_entry(text)
    assert entry.day == 3 and entry.title == "day: 99\n---"
    assert entry.topics == ("a: b", "- c", "---")
    assert entry.body == "---\nday: 42\n---"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"body": "   "}, "no text"),
        ({"body": "x" * (entries.MAX_BODY_CHARS + 1)}, "the limit is"),
        ({"body": "bell \x07"}, "control characters"),
        ({"body": "ok", "title": "nul \x00"}, "control characters"),
        ({"body": "ok", "topics": ["esc \x1b[31m"]}, "control characters"),
        ({"body": "lone \ud800 surrogate"}, "not valid Unicode"),
        ({"body": "ok", "title": "t" * 201}, "title"),
        ({"body": "ok", "topics": ["t"] * 31}, "topics"),
        ({"body": "ok", "widgets": ["../telepathy"]}, "is not a name like"),
        ({"body": "ok", "page": 0}, "page must be between"),
        ({"body": "ok", "hours": 30}, "hours must be between"),
        ({"body": "ok", "title": "two\u2028lines"}, "title contains a Unicode line separator"),
        ({"body": "ok", "topics": ["KV\x85cache"]}, "topic contains a Unicode line separator"),
    ],
)
def test_format_entry_rejects_bad_input(kwargs, message):
    with pytest.raises(entries.JournalError, match=message):
        entries.format_entry(day=4, **kwargs)


@settings(max_examples=60, deadline=None)
@given(
    title=st.text(max_size=40).filter(lambda s: not entries._CONTROL.search(s) and "\r" not in s),
    body=st.text(min_size=1, max_size=200).filter(lambda s: s.strip() and not entries._CONTROL.search(s)),
    topics=st.lists(st.text(max_size=20).filter(lambda s: not entries._CONTROL.search(s) and "\r" not in s),
                    max_size=4),
)
def test_format_entry_round_trips_any_printable_text(title, body, topics):
    try:
        text = entries.format_entry(day=9, body=body, title=title, topics=topics)
    except entries.JournalError as err:
        # Only lone surrogates, and Unicode line separators in front-matter fields, are refused.
        assert "not valid Unicode" in str(err) or entries._UNICODE_BREAK.search(title + "".join(topics))
        return
    entry = entries.parse_entry(text)
    assert entry.day == 9
    assert entry.title == title.strip()
    assert entry.body == body.replace("\r\n", "\n").replace("\r", "\n").strip()


def test_write_entry_creates_and_refuses_to_overwrite(tmp_path):
    first = entries.format_entry(day=23, body="First version.")
    path = store.write_entry(tmp_path / "journal", 23, first)
    assert path == tmp_path / "journal" / "day-23.md"
    assert path.read_text(encoding="utf-8") == first

    second = entries.format_entry(day=23, body="Second version.")
    with pytest.raises(entries.EntryExistsError, match="already exists"):
        store.write_entry(tmp_path / "journal", 23, second)
    assert path.read_text(encoding="utf-8") == first

    store.write_entry(tmp_path / "journal", 23, second, overwrite=True)
    assert path.read_text(encoding="utf-8") == second
    assert sorted(p.name for p in (tmp_path / "journal").iterdir()) == [".versions", "day-23.md"]  # no temp files
    assert [v.kind for v in versions.list_versions(tmp_path / "journal")] == [versions.REPLACED]


def test_write_entry_checks_the_text_before_writing(tmp_path):
    with pytest.raises(entries.JournalError, match="for day 5, not day 6"):
        store.write_entry(tmp_path, 6, entries.format_entry(day=5, body="x"))
    with pytest.raises(entries.JournalError, match="front matter"):
        store.write_entry(tmp_path, 6, "just text")
    with pytest.raises(entries.JournalError):
        store.write_entry(tmp_path, -1, entries.format_entry(day=5, body="x"))
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_leaves_the_old_entry_intact(tmp_path, monkeypatch):
    old = entries.format_entry(day=2, body="Old.")
    path = store.write_entry(tmp_path, 2, old)

    def disk_full(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store.os, "replace", disk_full)
    with pytest.raises(OSError):
        store.write_entry(tmp_path, 2, entries.format_entry(day=2, body="New."), overwrite=True)
    assert path.read_text(encoding="utf-8") == old
    assert sorted(p.name for p in tmp_path.iterdir()) == [".versions", "day-02.md"]
    assert leftover_temporaries(tmp_path) == leftover_temporaries(versions.versions_dir(tmp_path)) == []


def test_write_without_hard_links_still_refuses_to_overwrite(tmp_path, monkeypatch):
    def no_links(*_args):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(store.os, "link", no_links)
    store.write_entry(tmp_path, 2, entries.format_entry(day=2, body="Old."))
    with pytest.raises(entries.EntryExistsError):
        store.write_entry(tmp_path, 2, entries.format_entry(day=2, body="New."))
    assert "Old." in (tmp_path / "day-02.md").read_text(encoding="utf-8")


def test_journal_storage(monkeypatch, tmp_path):
    monkeypatch.delenv("LLM_JOURNAL_READONLY", raising=False)
    assert store.journal_storage(tmp_path) == (True, "")
    assert store.journal_storage(tmp_path / "not-yet-created")[0]
    monkeypatch.setenv("LLM_JOURNAL_READONLY", "1")
    persistent, reason = store.journal_storage(tmp_path)
    assert not persistent and "LLM_JOURNAL_READONLY" in reason
    monkeypatch.setenv("LLM_JOURNAL_READONLY", "0")
    assert store.journal_storage(tmp_path)[0]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only folders")
def test_journal_storage_sees_a_read_only_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("LLM_JOURNAL_READONLY", raising=False)
    tmp_path.chmod(0o555)
    try:
        assert not store.journal_storage(tmp_path)[0]
    finally:
        tmp_path.chmod(0o755)


# ---------------------------------------------------------------------------------------------
# Safe display


@pytest.mark.parametrize(
    "body, absent",
    [
        ("<script>alert(1)</script>hi", "<script"),
        ('<img src=x onerror="alert(1)">', "onerror"),
        ("<IFRAME src='https://evil.example'></iframe>", "iframe"),
        ("a <!-- hidden <b>x</b> --> b", "hidden"),
        ("[click](javascript:alert(1))", "javascript:"),
        ("[click]( JavaScript:alert(1))", "javascript:"),
        ("[x](data:text/html;base64,PHNjcmlwdD4=)", "data:"),
        ("<a href='javascript:alert(1)'>x</a>", "href"),
    ],
)
def test_display_markdown_removes_html_and_script_links(body, absent):
    assert absent not in entries.display_markdown(body).lower()


def test_display_markdown_keeps_code_and_plain_text():
    body = "Use `<|endoftext|>` and a <|unk|> token.\n\n```html\n<b>bold</b>\n```\n\n2 < 3 > 1, see <https://example.com>"
    shown = entries.display_markdown(body)
    assert "`<|endoftext|>`" in shown and "<|unk|>" in shown
    assert "```html\n<b>bold</b>\n```" in shown
    assert "2 < 3 > 1" in shown and "https://example.com" in shown


def test_display_markdown_moves_headings_below_the_entry_heading():
    assert entries.display_markdown("# Big\n## Smaller\ntext #1") == "### Big\n#### Smaller\ntext #1"


# ---------------------------------------------------------------------------------------------
# Calendar and progress


def test_calendar_helpers():
    assert entries.weekday_of(1) == "Thursday" and entries.weekday_of(17) == "Saturday"
    assert entries.weekday_of(20) == "Tuesday"
    assert entries.weekday_of(1, "Mon") == "Monday"
    assert progress.planned_hours("Saturday") == 1 and progress.planned_hours("Wednesday") == 2
    assert progress.calendar_position(1) == (1, 3)  # week 1, Thursday column
    assert progress.calendar_position(5) == (2, 0)  # the Monday after
    with pytest.raises(entries.JournalError):
        entries.weekday_index("Fr")


def test_day_one_date():
    days = [entries.Entry(day=3, weekday="", body=""),
            entries.Entry(day=5, weekday="", body="", date=dt.date(2025, 3, 10))]
    assert progress.day_one_date(days) == dt.date(2025, 3, 6)
    assert progress.day_one_date(days[:1]) is None


def test_progress_counts_pages_covered_not_page_numbers(real_journal):
    days = progress.progress_by_day(real_journal.entries)
    assert [d.day for d in days] == list(range(1, 23))
    read = {d.day: d.pages_read for d in days}
    assert read[1] == 1  # Appendix A opened at p. 261
    assert read[2] == 19  # p. 261-279
    assert read[3] == 19 + 5  # appendix done, chapter 1 up to p. 5
    assert read[22] == 19 + 203
    assert all(b.pages_read >= a.pages_read for a, b in zip(days, days[1:], strict=False))
    assert sum(d.pages_today for d in days) == read[22]
    gap = [d for d in days if not d.studied]
    assert [d.day for d in gap] == [17, 18, 19]
    assert all(d.pages_today == 0 and d.hours == 0 for d in gap)
    assert sum(d.hours for d in days) == 34 and sum(d.planned_hours for d in days) == 38


def test_progress_handles_other_appendices_and_missing_pages():
    days = [
        entries.Entry(day=1, weekday="Thursday", body="", chapters=("Chapter 1",), page=10),
        entries.Entry(day=2, weekday="Friday", body="", chapters=("Chapter 1",)),  # no page written
        entries.Entry(day=3, weekday="Saturday", body="", chapters=("Appendix D",), page=313),
        entries.Entry(day=4, weekday="Sunday", body="", chapters=("Appendix D",), page=320),
        entries.Entry(day=5, weekday="Monday", body="", chapters=("Chapter 2",), page=30),
    ]
    read = [d.pages_read for d in progress.progress_by_day(days)]
    assert read == [10, 10, 11, 18, 38]


def test_progress_of_an_empty_journal():
    assert progress.progress_by_day([]) == []
    assert progress.pace([]) is None
    assert progress.next_up([]) == progress.NextUp(current=None, page=None, upcoming=tuple(book.BOOK_CHAPTERS))
    assert progress.chapter_spans([]) == []


def test_chapter_spans(real_journal):
    spans = {s.chapter: s for s in progress.chapter_spans(real_journal.entries)}
    assert list(spans)[:2] == ["Appendix A", "Chapter 1"]  # reading order, not book order
    assert (spans["Appendix A"].first_day, spans["Appendix A"].done_by) == (1, 3)
    assert (spans["Chapter 3"].last_day, spans["Chapter 3"].done_by) == (9, 10)
    assert (spans["Chapter 5"].last_day, spans["Chapter 5"].done_by) == (20, 21)
    assert not spans["Chapter 6"].finished
    assert sum(s.finished for s in spans.values()) == 6


def test_streaks(real_journal):
    result = progress.streaks(progress.progress_by_day(real_journal.entries))
    assert result == progress.Streaks(current=3, longest=16, gaps=((17, 19),))


def test_pace_and_finish_estimates(real_journal):
    result = progress.pace(progress.progress_by_day(real_journal.entries))
    assert result.pages_read == 222 and result.pages_left == 360 - 222
    assert result.pages_per_hour == pytest.approx(222 / 34)
    assert result.pages_per_day == pytest.approx(222 / 22)
    # 138 pages at 6.53 pages an hour need 21.1 hours; from Friday day 23 the plan gives
    # 2+1+1+2+2+2+2+2+1+1+2+2 = 20 hours by day 34, and reaches 22 on Wednesday day 35.
    assert result.finish_on_plan == 35
    assert result.finish_at_rhythm == 22 + 14  # ceil(138 / 10.09) days
    assert (result.hours_logged, result.hours_planned) == (34, 38)


def test_pace_when_the_book_is_done_or_nothing_is_logged():
    done = [progress.DayProgress(1, "Thursday", True, 360, book.MAIN_TEXT, 360, 360, 2.0, 2.0)]
    assert progress.pace(done).finish_on_plan == 1 and progress.pace(done).pages_left == 0
    no_hours = [progress.DayProgress(1, "Thursday", True, 20, book.MAIN_TEXT, 20, 20, 0.0, 2.0)]
    assert progress.pace(no_hours).finish_on_plan is None and progress.pace(no_hours).finish_at_rhythm == 18
    no_pages = [progress.DayProgress(1, "Thursday", True, None, None, 0, 0, 2.0, 2.0)]
    assert progress.pace(no_pages).finish_on_plan is None and progress.pace(no_pages).finish_at_rhythm is None


def test_next_up(real_journal):
    nxt = progress.next_up(real_journal.entries)
    assert (nxt.current, nxt.page) == ("Chapter 6", 203)
    assert nxt.upcoming == ("Chapter 7", "Appendix B", "Appendix C", "Appendix D", "Appendix E")
    assert not nxt.book_done
