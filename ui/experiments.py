"""Experiments in the journal: the "Add to the entry of day N" button every widget shows beside a result,
and each recorded experiment drawn again inside its entry."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from core.app import experiment_records as xv
from core.app import predictions as pr
from core.app.model_sources import ModelSource, model_sources
from core.errors import AppError
from core.gpt.checkpoint import list_runs
from core.gpt.classifier import list_classifiers
from core.gpt.params import ParameterCount
from core.journal import store
from core.journal.entries import Entry, entry_filename
from core.journal.experiments import Experiment
from core.widgets import run_view
from core.widgets.run_view import shorten_line_breaks
from ui.charts import loss_chart
from ui.models import cached_model
from ui.text import plain


def add_to_entry(key: str, record: Experiment | None) -> None:
    """A day chooser (the latest entry by default) and a button that records `record` in that day's entry."""
    if record is None:
        return
    folder = store.journal_dir()
    persistent, why_not = store.journal_storage(folder)
    if not persistent:
        st.caption(f"Results cannot be added to the journal here: {why_not}")
        return
    days = [e.day for e in reversed(store.load_journal(folder).entries) if e.source == entry_filename(e.day)]
    if not days:
        st.caption("Write a journal entry on the New entry page, then results can be added to it.")
        return
    message = st.session_state.pop(f"{key}_xp_message", None)
    left, right = st.columns([1, 3], vertical_alignment="bottom")
    day = left.selectbox("Day", days, key=f"{key}_xp_day", help="The entry to keep this result in (latest first)")
    fingerprint = (day, repr(record))
    added = st.session_state.get(f"{key}_xp_added") == fingerprint
    right.button(f"Added to the entry of day {day}" if added else f"Add to the entry of day {day}",
                 key=f"{key}_xp_add", icon=":material/bookmark_add:", disabled=added, on_click=_add,
                 args=(key, folder, day, record, fingerprint),
                 help="Keeps what this was, its settings, seed and results in the entry's front matter")
    if message:
        (st.success if message[0] else st.error)(message[1], icon=":material/bookmark:")


def _add(key: str, folder: Any, day: int, record: Experiment, fingerprint: tuple[int, str]) -> None:
    try:
        store.add_experiment(folder, day, record)
    except AppError as err:
        st.session_state[f"{key}_xp_message"] = (False, f"Not added: {err}.")
        return
    except OSError as err:
        st.session_state[f"{key}_xp_message"] = (False, f"Not added: the journal could not be written ({err}).")
        return
    st.session_state[f"{key}_xp_added"] = fingerprint
    st.session_state[f"{key}_xp_message"] = (True, f"Added to {entry_filename(day)}; the Entries page shows it "
                                                   "inside that day.")


# ---------------------------------------------------------------------------------------------
# Records of what the widgets produced


def _source(key: str) -> ModelSource:
    """The model the widget `key` uses: the one chosen in its Model radio, else the newest usable one."""
    usable = [s for s in model_sources() if not s.needs_download]
    chosen = st.session_state.get(f"{key}_model")
    return next((s for s in usable if s.label == chosen), usable[0])


def generation(key: str, prompt: str, strategy: Any, tokens: int, use_cache: bool, seed: int, text: str) -> Experiment:
    """A generation of the sampling widget `key` (`strategy`: temperature, top_k, top_p)."""
    source = _source(key)
    run_id = source.path.name if source.kind == "checkpoint" and source.path else None
    return xv.generation_record(source=source, run_id=run_id, prompt=prompt, temperature=strategy.temperature,
                                top_k=strategy.top_k, top_p=strategy.top_p, tokens=tokens, use_cache=use_cache,
                                seed=seed, text=text)


PREDICTED = {"pretraining": "val_loss", "spam": "test_accuracy"}


def predict(key: str, kind: str) -> None:
    """Before a run: an optional guess of its result, kept with the run once it has finished."""
    metric = PREDICTED[kind]
    with st.expander("Predict, then run (optional)", icon=":material/psychology:"):
        left, right = st.columns([1, 2])
        left.number_input(f"Your guess: {pr.METRICS[metric]}", min_value=0.0, max_value=1.0 if kind == "spam" else 20.0,
                          value=None, step=0.01, key=f"{key}_predict_value",
                          help="Written down before the run, compared with what it reaches afterwards")
        right.text_input("Or in words", max_chars=pr.MAX_SENTENCE_CHARS, key=f"{key}_predict_sentence",
                         placeholder="the loss will stop falling after epoch 3")


def _pending_prediction(key: str, kind: str) -> pr.Prediction | None:
    value = st.session_state.get(f"{key}_predict_value")
    sentence = st.session_state.get(f"{key}_predict_sentence") or ""
    if value is None and not sentence.strip():
        return None
    try:
        return pr.make_prediction(PREDICTED[kind], value, sentence)
    except AppError:
        return None


def finished_run(key: str, kind: str, events: list[dict[str, Any]]) -> Experiment | None:
    """A finished or stopped run, with its saved settings when its folder is there, and the learner's guess."""
    done = next((e for e in events if e.get("type") == "done"), None)
    if done is None:
        return None
    if not done.get("checkpoint"):
        return xv.run_record(kind, events)
    folder = done["checkpoint"]
    guess = pr.read_prediction(folder)
    if guess is None and (guess := _pending_prediction(key, kind)) is not None:
        try:
            pr.save_prediction(folder, guess)
        except OSError:
            guess = None  # the run folder is gone or read-only: the record still has the figures
        for name in ("value", "sentence"):
            st.session_state.pop(f"{key}_predict_{name}", None)  # the next run starts with no guess
    try:
        record = xv.checkpoint_record(kind, folder)
    except AppError:  # the folder is gone or damaged: the live figures still make a record
        record = xv.run_record(kind, events)
    return xv.with_prediction(record, guess)


def tokenized(result: Any) -> Experiment:
    """A text as a tokenizer split it (`core.widgets.token_view.Tokenized`)."""
    return xv.view_record("tokenizer", f"{result.tokenizer}: {result.n_tokens:,} tokens",
                          {"tokenizer": result.tokenizer, "text": result.text},
                          {"tokens": result.n_tokens, "characters": result.n_chars,
                           "ids": " ".join(map(str, result.ids[:200]))})


def attention_view(title: str, settings: dict[str, Any]) -> Experiment:
    return xv.view_record("attention", title, settings, {}, seed=settings.get("seed"))


def parameter_config(preset: str, cfg: dict[str, Any], count: ParameterCount) -> Experiment:
    return xv.view_record("parameters", f"{preset}: {count.total:,} parameters", {"preset": preset, **cfg},
                          {"parameters": count.total, "with_weight_tying": count.total_tied,
                           "mb_fp32": round(count.mb_fp32, 2)})


# ---------------------------------------------------------------------------------------------
# Inside an entry


def _values(values: dict[str, Any]) -> str:
    return " · ".join(f"{plain(name.replace('_', ' '))} **{plain(_show(value))}**" for name, value in values.items())


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    text = str(value).replace("\n", " ")
    return text if len(text) <= 60 else text[:59] + "…"


def render_experiments(entry: Entry, key: str) -> None:
    """Each experiment the entry keeps, as it was: settings, results, and a run's curves or a generation."""
    if not entry.experiments:
        return
    st.markdown(f"**Experiments ({len(entry.experiments)})**")
    for i, record in enumerate(entry.experiments):
        with st.expander(f"{record.label}: {plain(record.title)}", icon=":material/science:"):
            render_record(record, f"{key}-xp{i}")


def render_record(record: Experiment, key: str) -> None:
    """One experiment: when, its settings and seed, its results, and what it can still show."""
    settings = {k: v for k, v in record.settings.items() if k != "prompt"}
    st.caption(f"Recorded {record.at.replace('T', ' ').rstrip('Z')} UTC" if record.at else "Recorded")
    if settings or record.seed is not None:
        st.markdown("Settings: " + _values({**settings, **({"seed": record.seed} if record.seed is not None else {})}))
    results = {k: v for k, v in record.results.items() if k != "text" and not k.startswith("predict")}
    if results:
        st.markdown("Results: " + _values(results))
    if comparison := xv.prediction_against_result(record):
        st.markdown(f":material/psychology: {plain(comparison)}")
    if record.kind in xv.RUN_KINDS:
        _run_curves(record)
    elif record.kind == "generation":
        _generation(record, key)
    elif "text" in record.settings:
        st.code(shorten_line_breaks(str(record.settings["text"])), language=None, wrap_lines=True)


def _run_curves(record: Experiment) -> None:
    history = xv.run_history(record)
    if history is None:
        st.caption(f":material/folder_off: Run {record.run or '(unnamed)'} is no longer on this machine (deleted); "
                   "the figures above are the ones recorded then.")
        return
    rows = run_view.loss_rows(history, f"run {record.run}")
    if not rows:
        st.caption("The run has no evaluation to draw.")
        return
    st.altair_chart(loss_chart(pd.DataFrame(rows), run_view.epoch_ends(history), "tokens_seen"),
                    width="stretch")


def _generation(record: Experiment, key: str) -> None:
    st.code(shorten_line_breaks(str(record.results.get("text", ""))), language=None, wrap_lines=True)
    st.button("Run it again", key=f"{key}-replay", icon=":material/replay:", on_click=_replay, args=(key, record),
              help="The same model, prompt, settings and seed: the same tokens")
    outcome = st.session_state.get(f"{key}-replayed")
    if outcome is not None:
        same, text = outcome
        if same is None:
            st.info(f"Cannot run it again: {text}.", icon=":material/block:")
        elif same:
            st.success("The same text again: the same seed and settings drew the same tokens.",
                       icon=":material/check_circle:")
        else:
            st.warning("A different text this time (the model has changed since, or the prompt was cut to fit "
                       "the record):", icon=":material/difference:")
            st.code(shorten_line_breaks(text), language=None, wrap_lines=True)


def _replay(key: str, record: Experiment) -> None:
    """Callback of Run it again: (True/False: the same text or not, the text), or (None, why it cannot run)."""
    try:
        text = xv.replay_generation(record, cached_model(xv.replay_source(record)))
    except AppError as err:
        st.session_state[f"{key}-replayed"] = (None, str(err))
        return
    st.session_state[f"{key}-replayed"] = (text == record.results.get("text"), text)


def calibration_section() -> None:
    """How far each numeric prediction was from the run's result, over time (for the Progress page)."""
    guesses = pr.calibration([*list_runs(), *list_classifiers()])
    if not guesses:
        st.caption("No prediction yet: before a run on the Pretraining or Spam classifier page, write down what "
                   "you expect under Predict, then run, and this chart shows how close your guesses get.")
        return
    data = pd.DataFrame([{"run": g.run_id, "saved": g.created[:19], "metric": pr.METRICS[g.metric],
                          "predicted": g.predicted, "reached": g.actual, "off by": g.error} for g in guesses])
    st.altair_chart(alt.Chart(data).mark_line(point=True).encode(
        x=alt.X("saved:T", title=None), y=alt.Y("off by:Q", title="|predicted - reached|"),
        color=alt.Color("metric:N", title=None),
        tooltip=["run", "metric", "predicted", "reached", alt.Tooltip("off by", format=".3f")],
    ).properties(height=180, title="How far off each prediction was"), width="stretch")
