"""The journal pages in AppTest: hostile files, editing, versions and deleting, search and tags, finish dates."""

from __future__ import annotations

import datetime as dt

import pytest
from journal_helpers import entry_file, open_app, texts

from core.journal import entries, versions

HOSTILE = {  # one bad file each: every journal page must show the rest and say which file is broken
    "day-30.md": "---\nday: 30\ndate: 2025-02-30\n---\nA typo in the date.",
    "day-31.md": "---\nday: 31\ndate: 2025-13-01\n---\nNo thirteenth month.",
    "day-32.md": "---\nday: 32\ndate: 2025-04-31\n---\nApril has 30 days.",
    "day-33.md": "---\nday: 33\ndate: 2025-02-28T25:00:00\n---\nNo 25th hour.",
    "day-34.md": "---\nday: 34\ntags: " + "[" * 10_000 + "]" * 10_000 + "\n---\nNested too deep.",
    "day-35.md": "---\n" + "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}' if i else 'lol'] * 9)}]\n" for i in range(9))
                 + "title: *l8\nday: 35\n---\nAn alias bomb.",
    "day-36.md": "---\nday: 36\ndate: 2025-00-10\n---\nMonth zero.",
}


@pytest.fixture
def hostile_journal(journal_copy):
    for name, text in HOSTILE.items():
        (journal_copy / name).write_text(text, encoding="utf-8")
    return journal_copy


def replace_box(at, day: int):
    """The replace confirmation, found by what it says rather than by its key."""
    [box] = [c for c in at.checkbox if c.label == f"Replace the existing entry for day {day}"]
    return box


def headings(at) -> list[str]:
    return [h.value.split(" ·")[0] for h in at.subheader if h.value.startswith("Day ")]


# ---------------------------------------------------------------------------------------------
# Hostile files


@pytest.mark.timeout(120)
@pytest.mark.parametrize("page", [None, "pages/entries.py", "pages/new_entry.py", "pages/pretraining.py"])
def test_every_journal_page_survives_hostile_files(hostile_journal, page):
    at = open_app(page)  # fails on any exception
    if page == "pages/entries.py":
        errors = [texts([e]) for e in at.error]
        for name in HOSTILE:
            assert sum(name in error for error in errors) == 1, name
        assert "19 of 19 entries." in texts(at.caption)
    elif page in (None, "pages/new_entry.py"):
        assert f"{len(HOSTILE)} journal file(s) could not be read" in texts(at.warning)


def test_new_entry_will_not_write_over_an_unreadable_file(hostile_journal):
    at = open_app("pages/new_entry.py")
    at.number_input(key="new_day").set_value(30).run()
    at.text_area(key="new_body").input("Day thirty again.").run()
    assert "day-30.md exists but could not be read (date must look like 2025-03-06" in texts(at.error)
    assert "save" not in [b.key for b in at.button]
    assert "A typo in the date." in (hostile_journal / "day-30.md").read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# Editing, replacing, deleting


def test_choosing_an_existing_day_loads_it_and_a_draft_survives(journal_copy):
    at = open_app("pages/new_entry.py")
    at.text_area(key="new_body").input("My draft for day 23.").run()
    at.number_input(key="new_day").set_value(14).run()
    day14 = entries.parse_entry((journal_copy / "day-14.md").read_text(encoding="utf-8"))
    assert at.text_area(key="new_body").value == day14.body
    assert at.text_input(key="new_title").value == "Where GPT-2's parameters live"
    assert at.multiselect(key="new_widgets").value == ["parameters"]
    assert at.text_input(key="new_topics").value == "gpt architecture, parameters, model size"

    at.number_input(key="new_day").set_value(15).run()  # from one entry to another
    assert at.text_area(key="new_body").value.startswith("Started chapter 5") or "day-15.md" in texts(at.warning)
    at.number_input(key="new_day").set_value(23).run()  # back to a free day: the draft is back
    assert at.text_area(key="new_body").value == "My draft for day 23."


def test_the_entries_edit_link_opens_that_day(journal_copy):
    at = open_app("pages/entries.py")
    assert [link.label for link in at.get("page_link")].count("Edit") == 19
    at.query_params["day"] = "14"  # where the Edit link of day 14 leads: new-entry?day=14
    at.switch_page("pages/new_entry.py").run()
    assert not at.exception
    assert at.number_input(key="new_day").value == 14
    assert at.text_input(key="new_title").value == "Where GPT-2's parameters live"
    assert replace_box(at, 14).value is False


def test_a_replace_confirmation_belongs_to_its_day(journal_copy):
    day6 = (journal_copy / "day-06.md").read_text(encoding="utf-8")
    at = open_app("pages/new_entry.py")
    at.number_input(key="new_day").set_value(5).run()
    at.text_area(key="new_body").input("A new note for day 5.").run()
    replace_box(at, 5).check().run()
    assert not at.button(key="save").disabled

    at.number_input(key="new_day").set_value(6).run()
    at.text_area(key="new_body").input("A new note for day 5.").run()  # the note typed again, on day 6
    assert replace_box(at, 6).value is False
    assert at.button(key="save").disabled
    assert (journal_copy / "day-06.md").read_text(encoding="utf-8") == day6


def test_a_replaced_entry_is_kept_and_can_be_restored(journal_copy):
    original = (journal_copy / "day-22.md").read_text(encoding="utf-8")
    at = open_app("pages/new_entry.py")
    at.number_input(key="new_day").set_value(22).run()
    assert "Earlier versions of day 22 (0)" in [e.label for e in at.expander]
    at.text_area(key="new_body").input("A rewrite of day 22.").run()
    at.checkbox(key="new_replace_22").check().run()
    at.button(key="save").click().run()
    assert "A rewrite of day 22." in (journal_copy / "day-22.md").read_text(encoding="utf-8")
    [kept] = versions.list_versions(journal_copy, day=22)
    assert kept.read() == original

    at.number_input(key="new_day").set_value(22).run()
    assert "Earlier versions of day 22 (1)" in [e.label for e in at.expander]
    at.button(key=f"new_restore_{kept.path.name}").click().run()
    assert not at.exception
    assert (journal_copy / "day-22.md").read_text(encoding="utf-8") == original
    assert "Restored day-22.md" in texts(at.success)
    assert at.number_input(key="new_day").value == 22 and at.text_area(key="new_body").value.startswith("We start")


def test_deleting_asks_first_and_can_be_undone(journal_copy):
    original = (journal_copy / "day-21.md").read_text(encoding="utf-8")
    at = open_app("pages/new_entry.py")
    at.number_input(key="new_day").set_value(21).run()
    assert at.button(key="delete").disabled
    at.checkbox(key="new_delete_21").check().run()
    at.button(key="delete").click().run()
    assert not (journal_copy / "day-21.md").exists()
    assert "Deleted day-21.md" in texts(at.success)
    assert "Recently deleted" in [h.value for h in at.subheader]
    assert "**Day 21**: Fine-tuning for classification, deleted " in texts(at.markdown)

    [deleted] = versions.list_versions(journal_copy, kind=versions.DELETED)
    at.button(key=f"new_undelete_{deleted.path.name}").click().run()
    assert (journal_copy / "day-21.md").read_text(encoding="utf-8") == original
    assert "Recently deleted" not in [h.value for h in at.subheader]


# ---------------------------------------------------------------------------------------------
# Entries: search, tags, topics of the chosen chapter


def test_entries_search_finds_words_in_notes_and_titles(journal_copy):
    (journal_copy / "day-23.md").write_text(entry_file(23, body="A zebrafish swam through the attention heads.",
                                                       title="Odd one"), encoding="utf-8")
    at = open_app("pages/entries.py")
    at.text_input(key="filter_text").input("Zebrafish").run()
    assert headings(at) == ["Day 23"] and "1 of 20 entries match the filters." in texts(at.caption)
    at.text_input(key="filter_text").input("zebrafish odd").run()  # every word, anywhere in the entry
    assert headings(at) == ["Day 23"]
    at.text_input(key="filter_text").input("zebrafish unicorn").run()
    assert "No entry matches these filters." in texts(at.info)


def test_clicking_a_topic_tag_filters_by_it(journal_copy):
    at = open_app("pages/entries.py")
    at.button(key="entries-day9-topic0").click().run()  # day 9's first topic: dropout
    assert at.multiselect(key="filter_topics").value == ["dropout"]
    assert headings(at) == ["Day 9"]


def test_topic_filter_offers_only_the_chosen_chapters_topics(journal_copy):
    at = open_app("pages/entries.py")
    assert "pytorch" in at.multiselect(key="filter_topics").options
    at.multiselect(key="filter_topics").set_value(["pytorch"]).run()
    at.multiselect(key="filter_chapters").set_value(["Chapter 3"]).run()
    options = at.multiselect(key="filter_topics").options
    assert "dropout" in options and "masking" in options
    assert "pytorch" not in options and "fine-tuning" not in options
    assert at.multiselect(key="filter_topics").value == []  # a topic of another chapter is dropped
    assert not at.exception


# ---------------------------------------------------------------------------------------------
# Dates


def test_a_recorded_date_turns_finish_estimates_into_dates(journal_copy):
    at = open_app("pages/new_entry.py")
    assert at.date_input(key="new_date").value is None  # no entry has a date yet
    at.date_input(key="new_date").set_value(dt.date(2025, 3, 28)).run()
    at.number_input(key="new_day").set_value(24).run()
    at.number_input(key="new_day").set_value(23).run()
    assert at.date_input(key="new_date").value == dt.date(2025, 3, 28)  # a date typed by hand stays
    at.text_area(key="new_body").input("Evaluating the classifier.").run()
    at.button(key="save").click().run()
    assert at.date_input(key="new_date").value == dt.date(2025, 3, 29)  # the next day's date is offered

    at.switch_page("pages/progress.py").run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["On plan"].startswith("day ") and "(about 2025-" in metrics["On plan"]
    assert "(about 2025-" in metrics["At the rhythm so far"]


def test_new_entry_fills_in_the_date_once_day_one_is_known(journal_copy):
    (journal_copy / "day-22.md").write_text(
        entry_file(22, weekday="Thursday", date=dt.date(2025, 3, 27), chapters=["Chapter 6"], page=203, hours=2),
        encoding="utf-8")
    at = open_app("pages/new_entry.py")
    assert at.date_input(key="new_date").value == dt.date(2025, 3, 28)
    at.number_input(key="new_day").set_value(25).run()
    assert at.date_input(key="new_date").value == dt.date(2025, 3, 30)
