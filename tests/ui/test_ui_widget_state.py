"""Entry-aware inline widgets: an entry's `widget_state` opens its widget as the note describes."""

from __future__ import annotations

from widget_helpers import run_script

from core.journal import store

ENTRY = ('from core.journal import store\nfrom ui.journal_view import render_entry\n'
         'render_entry(store.load_journal().entry_for({day}), key="t")\n')


def day(number: int):
    return run_script(ENTRY.format(day=number))


def test_day_8_opens_with_the_causal_mask_and_day_9_with_dropout_and_heads(journal_copy):
    assert day(8).toggle(key="t-day8-attention_causal").value is True
    nine = day(9)
    assert nine.toggle(key="t-day9-attention_causal").value is True
    assert nine.slider(key="t-day9-attention_heads").value == 2
    assert nine.slider(key="t-day9-attention_dropout").value == 0.5
    assert any("Dropout zeroes about 50%" in c.value for c in nine.caption)


def test_the_day_14_note_is_on_day_14_only(journal_copy):
    assert not any("824,832" in i.value for i in day(12).info)
    fourteen = day(14)
    assert any("824,832" in i.value for i in fourteen.info)
    fourteen.selectbox(key="t-day14-parameters_preset").set_value("gpt2-medium").run()
    assert not any("824,832" in i.value for i in fourteen.info)


def test_the_tokenizer_opens_on_the_entrys_text(journal_copy):
    entry = store.load_journal().entry_for(5)
    assert day(5).text_area(key="t-day5-tokenizer_text").value == entry.widget_state["tokenizer"]["text"]


def test_unknown_or_mistyped_state_is_ignored_with_a_warning(journal_copy):
    (journal_copy / "day-30.md").write_text(
        "---\nday: 30\nwidgets: [attention]\nwidget_state: {attention: {causal: maybe, colour: red}}\n---\n\nNote.\n")
    at = day(30)
    warned = " ".join(c.value for c in at.caption)
    assert "ignored causal" in warned and "colour (unknown)" in warned
    assert at.toggle(key="t-day30-attention_causal").value is False
