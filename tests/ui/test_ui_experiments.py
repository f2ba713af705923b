"""Experiments kept in the journal, through AppTest: added from a widget, shown inside the entry, replayed;
a malformed record, a deleted run and a hostile record never break the entry."""

from __future__ import annotations

import torch
from journal_helpers import open_app, texts
from widget_helpers import PAGES, run_script

from core.gpt.checkpoint import new_run_id, run_path, save_checkpoint
from core.gpt.config import get_preset
from core.gpt.model import GPTModel
from core.journal import experiments as exp
from core.journal import store

ENTRY = 'from core.journal import store\nfrom ui.journal_view import render_entry\n' \
        'render_entry(store.load_journal().entry_for({day}), key="t")\n'
HOSTILE = """---
day: 30
experiments:
- {v: 1, kind: pretraining, title: A run since deleted, run: 20250101-120000-abcdef, results: {val_loss: 6.1234}}
- {v: 1, kind: pretraining, title: Not a run name, run: ../../etc}
- {v: 1, kind: generation, title: "<script>x</script>", settings: {model: nowhere, prompt: hi}, results: {text: ''}}
- {v: 7, kind: generation}
- {v: 1, kind: spam, title: nested, settings: {a: {b: c}}}
---

A note that must survive.
"""


def test_a_generation_added_from_sampling_shows_in_its_entry_and_replays(journal_copy, gpt2_encoding):
    at = run_script(str(PAGES / "sampling.py"))
    at.button(key="sampling_preset_strict").click().run()
    at.number_input(key="sampling_count").set_value(5).run()
    at.button(key="sampling_generate").click().run()
    generated = at.code[-1].value
    latest = store.load_journal().entries[-1].day
    at.button(key="sampling_xp_add").click().run()
    assert not at.exception and f"day-{latest}.md" in texts(at.success)
    assert at.button(key="sampling_xp_add").disabled  # added once, not twice by a second click
    entry = store.load_journal().entry_for(latest)
    assert entry.experiments[-1].kind == "generation" and entry.experiments[-1].settings["top_k"] == 5

    view = run_script(ENTRY.format(day=latest))
    assert generated in [c.value for c in view.code]
    view.button(key=f"t-day{latest}-xp{len(entry.experiments) - 1}-replay").click().run()
    assert not view.exception and "The same text again" in texts(view.success)


def test_malformed_and_orphaned_records_are_warnings_and_the_note_stays(journal_copy):
    (journal_copy / "day-30.md").write_text(HOSTILE, encoding="utf-8")
    view = run_script(ENTRY.format(day=30))
    shown = texts(view.markdown) + texts(view.caption)
    assert "A note that must survive." in shown
    assert "no longer on this machine" in shown and "6.123" in shown
    assert "experiment 4" in shown and "experiment 5" in shown
    assert "<script>" not in texts(view.markdown)
    view.button(key="t-day30-xp2-replay").click().run()
    assert not view.exception and "does not say which model" in texts(view.info)


def test_the_entries_page_reads_an_entry_with_experiments(journal_copy):
    (journal_copy / "day-30.md").write_text(HOSTILE, encoding="utf-8")
    at = open_app("pages/entries.py")
    assert "A note that must survive." in texts(at.markdown)
    assert any("A run since deleted" in e.label for e in at.expander)


def test_new_entry_attaches_a_run_made_since_the_last_entry(journal_copy, gpt2_encoding):
    torch.manual_seed(1)
    model = GPTModel(get_preset("tiny", context_length=16, n_layers=1, emb_dim=32, n_heads=2))
    history = [{"type": "eval", "step": 2, "epoch": 1, "tokens_seen": 64, "train_loss": 9.5, "val_loss": 9.75}]
    folder = run_path(new_run_id(), journal_copy.parent / "runs")
    save_checkpoint(folder, model, status="finished", history=history, settings={"preset": "tiny", "seed": 3},
                    progress={"step": 2, "epoch": 1, "tokens_seen": 64})
    at = open_app("pages/new_entry.py")
    assert any("1 new run to attach" in e.label for e in at.expander)
    at.button(key=f"new_attach_{folder.name}").click().run()
    assert any("1 kept, 0 new runs" in e.label for e in at.expander)
    at.text_area(key="new_body").input("Trained a tiny model.").run()
    at.button(key="save").click().run()
    assert not at.exception
    [record] = store.load_journal().entry_for(23).experiments
    assert record.run == folder.name and record.results["val_loss"] == 9.75


def test_editing_an_entry_keeps_its_experiments_and_widget_state(journal_copy):
    store.add_experiment(journal_copy, 14, exp.Experiment(kind="attention", title="kept"))
    at = open_app("pages/new_entry.py")
    at.number_input(key="new_day").set_value(14).run()
    at.text_area(key="new_body").input("A rewrite of day 14.").run()
    at.checkbox(key="new_replace_14").check().run()
    at.button(key="save").click().run()
    entry = store.load_journal().entry_for(14)
    assert entry.body == "A rewrite of day 14." and [r.title for r in entry.experiments] == ["kept"]
    assert entry.widget_state == {"parameters": {"preset": "gpt2-small", "note": "day14"}}
