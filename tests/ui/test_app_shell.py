"""The app shell in Streamlit's AppTest: navigation, sidebar status, Progress, Entries and New entry."""

from __future__ import annotations

import datetime as dt
import types
from pathlib import Path

import pytest
from journal_helpers import entry_file, open_app, texts

from core.journal import book, entries, store
from core.paths import PROJECT_ROOT
from ui import sidebar, widget_registry

PAGES = ["pages/progress.py", "pages/entries.py", "pages/new_entry.py", "pages/tokenizer.py", "pages/attention.py",
         "pages/parameters.py", "pages/pretraining.py", "pages/sampling.py", "pages/spam.py", "pages/instruction.py"]


@pytest.fixture(autouse=True)
def fresh_status():
    sidebar.data_status.clear()
    yield
    sidebar.data_status.clear()


# ---------------------------------------------------------------------------------------------
# Shell


def test_widget_registry_pages_and_chapters_exist():
    for widget in widget_registry.WIDGET_PAGES.values():
        assert (PROJECT_ROOT / widget.path).is_file(), widget.path
        assert callable(widget_registry.load_widget_module(widget.name).compact), widget.name
        assert set(widget.chapters) <= set(book.BOOK_CHAPTERS), widget.name
    assert widget_registry.widgets_for_chapter("Chapter 5") == ("pretraining", "sampling")
    named = {w for e in store.load_journal(PROJECT_ROOT / "journal").entries for w in e.widgets}
    assert named <= set(widget_registry.WIDGET_PAGES)  # the starter journal names only registered widgets
    assert widget_registry.widgets_for_chapter(None) == ()


def test_app_opens_on_progress_with_sidebar_status(journal_copy):
    at = open_app()
    assert at.title[0].value == "Your journey through the book"
    status = texts(at.sidebar.markdown) + texts(at.sidebar.caption)
    for label in ("App status", "GPT-2 vocabulary", "The Verdict", "SMS Spam Collection", "Current model"):
        assert label in status
    assert "none yet: train one on the Pretraining page" in status


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_without_exception(journal_copy, page):
    at = open_app(page)
    assert at.title, f"{page} has no title"


def test_status_says_what_is_missing_and_how_to_fix_it(tmp_path, monkeypatch, journal_copy):
    monkeypatch.setenv("LLM_JOURNAL_DATA_DIR", str(tmp_path / "no-data"))
    monkeypatch.setenv("LLM_JOURNAL_CACHE_DIR", str(tmp_path / "no-cache"))
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "no-tiktoken"))
    status = {item.label: item for item in sidebar.app_status()}
    assert not any(item.ok for item in status.values())
    assert "TIKTOKEN_CACHE_DIR" in status["GPT-2 vocabulary"].detail
    assert "corpus/the-verdict.txt" in status["The Verdict (training text)"].detail
    assert "sms-spam/SMSSpamCollection" in status["SMS Spam Collection"].detail

    at = open_app()
    captions = texts(at.sidebar.caption)
    assert "TIKTOKEN_CACHE_DIR" in captions and "the-verdict.txt" in captions


def test_status_names_the_current_model_pinned_else_newest_finished(tmp_path, monkeypatch):
    from core.app import runs
    from core.gpt.checkpoint import run_path, save_checkpoint
    from core.gpt.model import GPTModel

    root = tmp_path / "runs"
    monkeypatch.setenv("LLM_JOURNAL_RUNS_DIR", str(root))
    small = {"vocab_size": 300, "context_length": 16, "emb_dim": 32, "n_heads": 4, "n_layers": 2}
    older, stopped = "20240101-000000-aaaaaa", "20240102-000000-bbbbbb"
    for run_id, status in ((older, "finished"), (stopped, "stopped")):
        save_checkpoint(run_path(run_id, root), GPTModel(small), status=status, history=[], settings={},
                        progress={"step": 3, "epoch": 1, "tokens_seen": 48})
    (root / "20240103-000000-cccccc").mkdir()  # half-written: never the current model
    item = sidebar.checkpoint_status()
    assert item.ok and older in item.detail and "finished after 3 steps" in item.detail
    runs.pin_run(stopped, root)
    item = sidebar.checkpoint_status()
    assert stopped in item.detail and "pinned" in item.detail and "stopped at step 3" in item.detail


@pytest.mark.skipif(not (PROJECT_ROOT.parent / "shared" / "data" / "tiktoken-cache").is_dir(),
                    reason="needs ../shared/data/tiktoken-cache")
def test_status_sees_the_shared_tiktoken_cache(monkeypatch):
    monkeypatch.delenv("TIKTOKEN_CACHE_DIR", raising=False)
    monkeypatch.delenv("DATA_GYM_CACHE_DIR", raising=False)
    monkeypatch.delenv("LLM_JOURNAL_DATA_DIR", raising=False)
    assert sidebar.tokenizer_status().ok


# ---------------------------------------------------------------------------------------------
# Progress


def test_progress_shows_the_journey_at_a_glance(journal_copy):
    at = open_app()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Pages covered"] == "222 of ~360"
    assert metrics["Reading now"] == "Chapter 6"
    assert metrics["Chapters"] == "6 finished"
    assert metrics["Hours logged"] == "34 h"
    assert metrics["Streak"] == "3 days"
    assert metrics["On plan"] == "day 35 (a Wednesday)"
    assert metrics["At the rhythm so far"] == "day 36 (a Thursday)"
    assert [h.value for h in at.header] == ["How far through the book", "Study rhythm", "Pace and finish",
                                            "What comes next", "Self-tests", "Predict, then run"]
    page_text = texts(at.markdown) + texts(at.caption)
    assert "days 17-19" in page_text
    assert "Then **Chapter 7**" in page_text
    assert "about 360 pages" in page_text


def test_progress_gives_dates_when_an_entry_has_one(journal_copy):
    (journal_copy / "day-22.md").write_text(
        entry_file(22, weekday="Thursday", date=dt.date(2025, 3, 27), chapters=["Chapter 6"], page=203, hours=2),
        encoding="utf-8")
    metrics = {m.label: m.value for m in open_app().metric}
    assert metrics["On plan"] == "day 35 (about 2025-04-09)"


def test_progress_of_an_empty_journal_invites_a_first_entry(empty_journal):
    at = open_app()
    assert "No journal entries yet" in texts(at.info)
    assert not at.metric


def test_progress_mentions_unreadable_files(journal_copy):
    (journal_copy / "day-23.md").write_text("---\nday: [23\n---\nbroken", encoding="utf-8")
    at = open_app()
    assert "1 journal file(s) could not be read" in texts(at.warning)
    assert {m.label: m.value for m in at.metric}["Pages covered"] == "222 of ~360"


# ---------------------------------------------------------------------------------------------
# Entries


def test_entries_timeline_with_filters_and_gap(journal_copy):
    at = open_app("pages/entries.py")
    assert "19 of 19 entries." in texts(at.caption)
    headings = [h.value for h in at.subheader]
    assert headings[0].startswith("Day 22") and headings[-1].startswith("Day 1 ")
    assert "days 17-19: no entry" in texts(at.caption)

    at.toggle(key="newest_first").set_value(False).run()
    assert at.subheader[0].value.startswith("Day 1 ")

    at.multiselect(key="filter_chapters").set_value(["Chapter 3"]).run()
    assert "4 of 19 entries match the filters." in texts(at.caption)
    assert [h.value.split(" ·")[0] for h in at.subheader] == ["Day 6", "Day 7", "Day 8", "Day 9"]

    at.multiselect(key="filter_topics").set_value(["dropout"]).run()
    assert [h.value.split(" ·")[0] for h in at.subheader] == ["Day 9"]

    at.multiselect(key="filter_chapters").set_value(["Chapter 1"]).run()
    assert at.multiselect(key="filter_topics").value == []  # dropout is not a topic of chapter 1
    at.text_input(key="filter_text").input("no such words").run()
    assert "No entry matches these filters." in texts(at.info)
    assert not at.exception


def test_entries_show_error_cards_and_still_render_the_rest(journal_copy):
    (journal_copy / "day-23.md").write_text("---\nday: 23\npage: lots\n---\nbroken", encoding="utf-8")
    (journal_copy / "day-24.md").write_text("no front matter at all", encoding="utf-8")
    (journal_copy / "extra.md").write_text(entry_file(5), encoding="utf-8")
    at = open_app("pages/entries.py")
    errors = texts(at.error)
    assert "day-23.md" in errors and "page must be a whole number" in errors
    assert "day-24.md" in errors and "no front matter" in errors
    assert "extra.md" in errors and "duplicate day 5" in errors
    assert "19 of 19 entries." in texts(at.caption)


def test_entries_never_render_raw_html(journal_copy):
    body = 'Fine text.\n\n<script>alert("x")</script><img src=x onerror=alert(1)>\n\n[link](javascript:alert(1))'
    (journal_copy / "day-23.md").write_text(entry_file(23, body=body, title="<b>bold</b> title"), encoding="utf-8")
    at = open_app("pages/entries.py")
    shown = texts(at.markdown)
    assert "Fine text." in shown
    for fragment in ("<script", "onerror", "javascript:"):
        assert fragment not in shown
    assert at.subheader[0].value == r"Day 23 · Friday\: \<b\>bold\</b\> title"  # escaped: shown as text


def test_entries_survive_missing_broken_and_unknown_widgets(journal_copy, monkeypatch):
    (journal_copy / "day-23.md").write_text(
        "---\nday: 23\nwidgets: [sampling, spam, telepathy]\n---\nWidgets below.", encoding="utf-8")

    def load(name):
        if name == "sampling":
            failing = types.ModuleType("ui.sampling")
            failing.compact = lambda key: (_ for _ in ()).throw(RuntimeError("model file is corrupt"))
            return failing
        if name == "spam":
            raise ModuleNotFoundError("No module named 'ui.spam'", name="ui.spam")
        raise ModuleNotFoundError("No module named 'torch'", name="torch")

    monkeypatch.setattr(widget_registry, "load_widget_module", load)
    at = open_app("pages/entries.py")
    assert "The Sampling widget could not be shown (RuntimeError: model file is corrupt)" in texts(at.warning)
    assert "The Spam classifier widget could not be shown (ModuleNotFoundError" in texts(at.warning)
    assert "unknown widget 'telepathy'" in texts(at.caption)
    assert "The Tokenizer widget could not be shown (ModuleNotFoundError" in texts(at.warning)  # day 5, 6

    at.toggle(key="show_widgets").set_value(False).run()
    assert "could not be shown" not in texts(at.warning)
    assert "Live widgets beside this entry: Sampling, Spam classifier" in texts(at.caption)


def test_entries_of_an_empty_journal(empty_journal):
    at = open_app("pages/entries.py")
    assert "No entries" in texts(at.info)


# ---------------------------------------------------------------------------------------------
# New entry


def test_new_entry_proposes_the_next_day(journal_copy):
    at = open_app("pages/new_entry.py")
    assert at.number_input(key="new_day").value == 23
    assert "Day 23 is a Friday (day 1 was a Thursday); the plan says 2 h." in texts(at.caption)
    assert at.multiselect(key="new_chapters").value == ["Chapter 6"]
    assert at.number_input(key="new_page").value == 203
    assert "the entry has no text" in texts(at.warning)
    assert not at.button  # nothing to save yet

    at.number_input(key="new_day").set_value(24).run()
    assert at.number_input(key="new_hours").value == 1.0  # a Saturday: the plan's weekend hour


def test_new_entry_is_written_atomically_into_the_journal(journal_copy):
    at = open_app("pages/new_entry.py")
    at.text_input(key="new_title").input("Evaluating the classifier").run()
    at.number_input(key="new_page").set_value(210).run()
    at.text_input(key="new_topics").input("evaluation, accuracy").run()
    at.multiselect(key="new_widgets").set_value(["spam"]).run()
    at.text_area(key="new_body").input("Accuracy on the test set, and what it hides.").run()
    assert texts(at.subheader[-1:]) == "Day 23 · Friday: Evaluating the classifier"  # the preview card
    assert "---\nday: 23\nweekday: Friday\n" in texts(at.code)

    at.button(key="save").click().run()

    assert not at.exception
    assert "Saved day-23.md" in texts(at.success)
    entry = entries.parse_entry((journal_copy / "day-23.md").read_text(encoding="utf-8"))
    assert (entry.day, entry.title, entry.page, entry.hours) == (23, "Evaluating the classifier", 210, 2.0)
    assert entry.topics == ("evaluation", "accuracy") and entry.widgets == ("spam",)
    assert sorted(p.name for p in journal_copy.iterdir() if p.name.startswith(".")) == []  # no temp files
    assert at.number_input(key="new_day").value == 24  # the form starts over on the next day
    assert at.text_area(key="new_body").value == ""


def test_new_entry_refuses_to_overwrite_unless_confirmed(journal_copy):
    original = (journal_copy / "day-22.md").read_text(encoding="utf-8")
    at = open_app("pages/new_entry.py")
    at.number_input(key="new_day").set_value(22).run()
    at.text_area(key="new_body").input("A rewrite of day 22.").run()
    assert "Day 22 already has an entry (day-22.md" in texts(at.warning)
    assert at.button(key="save").disabled  # and write_entry itself refuses without overwrite=True
    assert (journal_copy / "day-22.md").read_text(encoding="utf-8") == original

    at.checkbox(key="new_replace_22").check().run()
    assert not at.button(key="save").disabled
    at.button(key="save").click().run()
    assert "A rewrite of day 22." in (journal_copy / "day-22.md").read_text(encoding="utf-8")


def test_new_entry_rejects_hostile_input(journal_copy):
    at = open_app("pages/new_entry.py")
    at.text_input(key="new_title").input("../../../etc/passwd").run()
    at.text_area(key="new_body").input("ring the bell \x07 and \x1b[31m colour").run()
    assert "control characters" in texts(at.warning)
    assert not at.button

    at.text_area(key="new_body").input('<script>alert("x")</script>Plain words.').run()
    preview = texts(at.markdown)
    assert "Plain words." in preview and "<script" not in preview
    at.button(key="save").click().run()
    written = sorted(p.relative_to(journal_copy.parent) for p in journal_copy.parent.rglob("*") if p.is_file())
    assert Path("journal/day-23.md") in written
    assert not any("passwd" in str(p) for p in written)
    assert entries.parse_entry((journal_copy / "day-23.md").read_text(encoding="utf-8")).title == "../../../etc/passwd"


def test_new_entry_refuses_a_day_claimed_by_another_file(journal_copy):
    (journal_copy / "day-23-draft.md").write_text(entry_file(23), encoding="utf-8")
    at = open_app("pages/new_entry.py")
    at.number_input(key="new_day").set_value(23).run()
    at.text_area(key="new_body").input("Another day 23.").run()
    assert "Day 23 is already in day-23-draft.md" in texts(at.error)
    assert not at.button and not at.download_button


def test_new_entry_offers_a_download_where_the_disk_does_not_last(journal_copy, monkeypatch):
    monkeypatch.setenv("LLM_JOURNAL_READONLY", "1")
    before = sorted(p.name for p in journal_copy.iterdir())
    at = open_app("pages/new_entry.py")
    assert "LLM_JOURNAL_READONLY" in texts(at.info)
    at.text_area(key="new_body").input("Written on a hosted demo.").run()
    assert not at.button  # no Save button
    assert [d.label for d in at.download_button] == ["Download day-23.md"]
    assert sorted(p.name for p in journal_copy.iterdir()) == before



def test_progress_copes_with_bare_entries(empty_journal):
    (empty_journal / "day-01.md").write_text("---\nday: 1\n---\nJust started.", encoding="utf-8")
    (empty_journal / "day-03.md").write_text("---\nday: 3\npage: 12\n---\nTwelve pages, hours not logged.",
                                             encoding="utf-8")
    at = open_app()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Pages covered"] == "12 of ~360"
    assert metrics["Reading now"] == "nothing yet"
    assert metrics["Hours logged"] == "0 h"
    assert metrics["On plan"] == "not enough data"
    assert metrics["At the rhythm so far"].startswith("day ")
    assert "day 2" in texts(at.caption)  # the gap
