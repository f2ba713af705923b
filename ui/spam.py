"""Spam-classifier tester (book chapter 6): the data, fine-tuning live, the results, and trying it out.

Fine-tuning runs as `core.gpt.finetune.finetune_run` in the server's one training slot, drawn by
a fragment like the pretraining chart; classifying uses a saved classifier, loaded once and shared.
"""

from __future__ import annotations

import weakref
from dataclasses import replace
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from core.app import spam_batch as sb
from core.app.estimates import TrainingEstimate, estimate_training, format_duration, speed_for
from core.app.model_sources import ModelSource, load_source, model_sources
from core.app.runs import run_state
from core.gpt.checkpoint import Checkpoint, CheckpointError, Results, read_checkpoint
from core.gpt.classifier import (
    ClassifierInputError,
    GPTClassifier,
    classifiers_dir,
    classify,
    load_classifier,
)
from core.gpt.finetune import BOOK_RECIPE, SCRATCH_RECIPE, EvaluationEvent, Recipe, finetune_run
from core.gpt.lora import LoRASettings, is_adapter
from core.gpt.spam_data import (
    DATA_FILE,
    LABELS,
    Message,
    SpamDataError,
    balanced_splits,
    download_messages,
    read_messages,
)
from core.gpt.tokenizers import InvalidText, TextTooLong, TokenizerUnavailable, encode
from core.paths import SMS_SPAM_FILE, cache_dir, data_dir, find_data_file
from core.text import plural
from core.widgets import run_view
from core.widgets.spam_explain import CannotExplain, token_influence
from ui import experiments as xp
from ui import runs as saved
from ui import training_job as tj
from ui.charts import DASHES, loss_chart
from ui.long_text import within_limit
from ui.token_colors import show_colored_tokens

REFRESH_S = 2.0
CHART_REFRESH_S = 10.0
SCRATCH = "scratch"
MAX_MESSAGE_CHARS = 20_000
EXAMPLES = {
    "spam": "CONGRATULATIONS! You have WON a £1,000 cash prize. Text CLAIM to 80082 now to collect before midnight!",
    "ham": "Hi, are we still on for lunch tomorrow? I can pick you up at 12 if that works for you.",
}
LEARNING_RATES = (1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 2e-3, 5e-3)
SPLITS = {"train": "training", "val": "validation", "test": "test"}
TRAIN_CHOICES = {1: "the last block (book)", "all": "every block", "lora": "LoRA adapters, rank 16 (appendix E)"}
LABEL_COLOURS = alt.Scale(domain=list(LABELS), range=["#4c78a8", "#e45756"])


# ---------------------------------------------------------------------------------------------
# 1. The data


@st.cache_data(max_entries=2, show_spinner="Reading the SMS Spam Collection...")
def _messages(path: str, mtime: float) -> list[Message]:
    return read_messages(path)


def load_dataset() -> list[Message] | None:
    """All messages when the file is on this machine; raises `SpamDataError` when it is damaged."""
    path = find_data_file(DATA_FILE)
    return None if path is None else _messages(str(path), path.stat().st_mtime)


def dataset_section(key: str) -> list[Message] | None:
    """Where the data is (or how to get it) and its class balance, raw and as the book balances it."""
    try:
        messages = load_dataset()
    except SpamDataError as err:
        st.error(f"The SMS Spam Collection file is damaged: {err}", icon=":material/error:")
        return None
    if messages is None:
        st.warning(
            "The SMS Spam Collection is not on this machine. The app can download it from the UCI Machine "
            "Learning Repository (a 200 KB zip) when there is internet; offline, put the file "
            f"at `{data_dir() / SMS_SPAM_FILE}` or `{cache_dir() / SMS_SPAM_FILE}`. "
            "Saved classifiers still work below without it.", icon=":material/dataset:")
        if st.button("Download the SMS Spam Collection", key=f"{key}_download_data"):
            try:
                with st.spinner("Downloading..."):
                    download_messages()
            except SpamDataError as err:
                st.error(str(err), icon=":material/cloud_off:")
                return None
            st.rerun()
        return None
    splits = balanced_splits(messages)
    counts = [{"set": "all messages", "label": m.label_name} for m in messages]
    for part, name in (("train", "training"), ("val", "validation"), ("test", "test")):
        counts += [{"set": f"balanced: {name}", "label": m.label_name} for m in getattr(splits, part)]
    data = pd.DataFrame(counts).value_counts().rename("messages").reset_index()
    spam = sum(m.label for m in messages)
    st.caption(f"{len(messages):,} messages: {len(messages) - spam:,} ham and {spam:,} spam "
               f"({spam / len(messages):.0%}). "
               "As in the book, ham is undersampled to the spam count, then the messages are shuffled and "
               "split 70 / 10 / 20 into training, validation and test sets.")
    st.altair_chart(alt.Chart(data).mark_bar().encode(
        x=alt.X("messages:Q", title="messages"),
        y=alt.Y("set:N", title=None, axis=alt.Axis(labelLimit=250),
                sort=["all messages", "balanced: training", "balanced: validation", "balanced: test"]),
        color=alt.Color("label:N", title="label", scale=LABEL_COLOURS),
        tooltip=["set", "label", "messages"],
    ).properties(height=160), width="stretch")
    return messages


# ---------------------------------------------------------------------------------------------
# 2. Fine-tuning


def _bases() -> dict[str, ModelSource | None]:
    """Scratch first (it needs no download), then the models on this machine to start from."""
    options: dict[str, ModelSource | None] = {SCRATCH: None}
    for source in model_sources():
        if source.kind in ("checkpoint", "gpt2") and not source.needs_download:
            options[source.kind] = source
    return options


def _base_label(name: str, source: ModelSource | None) -> str:
    if source is None:
        return "From scratch: a small GPT (2 blocks) trained on the messages alone (recommended on a CPU)"
    return source.label


def finetune_section(key: str, messages: list[Message]) -> None:
    """Base model, recipe settings, an estimate, and the start button."""
    bases = _bases()
    base = st.radio("Start from", list(bases), format_func=lambda b: _base_label(b, bases[b]), key=f"{key}_base")
    source = bases[base]
    if "gpt2" not in bases:
        st.caption("OpenAI's GPT-2 is offered here once its weights are downloaded (on the Sampling page).")
    recipe = SCRATCH_RECIPE if source is None else BOOK_RECIPE
    cols = st.columns(4)
    epochs = cols[0].number_input("Epochs", 1, 50, recipe.settings.epochs, key=f"{key}_epochs_{base}")
    lr = cols[1].select_slider("Learning rate", LEARNING_RATES, value=recipe.settings.lr,
                               format_func=lambda v: f"{v:g}", key=f"{key}_lr_{base}")
    blocks = recipe.trainable_blocks
    if source is not None:
        blocks = cols[2].radio("Train", tuple(TRAIN_CHOICES), key=f"{key}_blocks", format_func=TRAIN_CHOICES.get,
                               help="The book trains only the last block, the final LayerNorm and the new head; "
                                    "LoRA (appendix E) freezes every weight and trains small adapters beside them.")
    seed = cols[3].number_input("Seed", 0, 2**31 - 1, 123, key=f"{key}_seed")
    lora = LoRASettings() if blocks == "lora" else None
    recipe = replace(recipe, settings=replace(recipe.settings, epochs=int(epochs), lr=float(lr)),
                     trainable_blocks=recipe.trainable_blocks if lora else blocks, lora=lora)
    try:
        estimate = _show_plan(messages, source, recipe, int(seed))
    except TokenizerUnavailable as err:
        st.error(str(err), icon=":material/cloud_off:")
        return
    tj.refused_note(key)
    xp.predict(key, "spam")
    clicked = tj.start_button(key, "spam", "Start fine-tuning")
    tj.watch_slot(key)
    if clicked:
        label = "from scratch" if source is None else f"from {source.kind}"
        epochs_text = plural(recipe.settings.epochs, "epoch")
        summary = f"{label}{' with LoRA' * bool(lora)}, {epochs_text}"
        base_ref = None if source is None else {"kind": source.kind, "path": str(source.path)}

        def work(stop: Any) -> Any:
            base_model = None if source is None else load_source(source)  # a fresh copy: training changes it
            yield from finetune_run(messages, base_model, recipe, base_name=base if source is None else source.label,
                                    base_ref=base_ref, seed=int(seed), stop=stop)

        uses = [source.path.name] if source is not None and source.kind == "checkpoint" and source.path else []
        if tj.start_job(key, "spam", summary, work, uses=uses, memory_bytes=estimate.memory_bytes):
            st.rerun()  # redraw the page in its training (or waiting) state


@st.cache_data(max_entries=4, show_spinner=False)
def _longest_message(texts: tuple[str, ...]) -> int:
    return max(len(encode(t)) for t in texts)


def _show_plan(messages: list[Message], source: ModelSource | None, recipe: Recipe, seed: int) -> TrainingEstimate:
    splits = balanced_splits(messages, seed)
    steps = max(1, len(splits.train) // recipe.batch_size)
    longest = _longest_message(tuple(m.text for m in splits.train))
    if source is None:
        cfg = {**recipe.model, "vocab_size": 2, "context_length": longest}
    else:
        base_cfg = _base_config(source)
        cfg = {**base_cfg, "vocab_size": 2, "context_length": min(longest, base_cfg["context_length"])}
    s = recipe.settings
    # The speed an earlier fine-tuning of a model this size measured here, else (fine-tuning the
    # pretrained model) the speed its own pretraining measured.
    fallback = read_checkpoint(source.path) if source is not None and source.kind == "checkpoint" else None
    estimate = estimate_training(cfg, steps, s.epochs, recipe.batch_size, s.eval_freq, s.eval_iter, sample_tokens=0,
                                 flops_per_s=speed_for(cfg, saved_classifiers(), fallback))
    bound = "" if recipe.trainable_blocks == "all" else "at most "
    basis = "at the speed measured here before" if estimate.measured else "at a typical laptop CPU's speed"
    st.caption(f"{len(splits.train):,} training messages in batches of {recipe.batch_size}: **{estimate.total_steps:,} "
               f"steps** ({steps} per epoch), {bound}about **{format_duration(estimate.seconds)}** {basis}, "
               f"then the finished classifier is measured on every split and saved.{tj.busy_caption()}")
    return estimate


def _base_config(source: ModelSource) -> dict[str, Any]:
    if source.kind == "checkpoint":
        return read_checkpoint(source.path).config
    from core.app.model_sources import GPT2_SIZE
    from core.gpt.weights import gpt2_config

    return gpt2_config(GPT2_SIZE)


# ---------------------------------------------------------------------------------------------
# 3. The live fine-tuning charts


def live_section(key: str) -> None:
    """The running (or last) fine-tuning run: progress every 2 s, charts every 10 s and
    only when new events arrived (drawing competes with training for the CPU)."""
    live = tj.shared_training().latest
    running = live is not None and live.kind == "spam" and live.job.running
    st.fragment(_live_status, run_every=tj.refresh_s(REFRESH_S) if running else None)(key)
    st.fragment(_live_charts, run_every=tj.refresh_s(CHART_REFRESH_S) if running else None)(key)


def _live_status(key: str) -> None:
    tj.earlier_run_note("spam")
    shown = tj.fine_tuning_view(key, "spam")
    if shown is None:
        return
    live, snapshot, events = shown
    progress = run_view.run_progress(events)
    if snapshot.running:
        tj.progress_bar(progress, tj.stopping(snapshot))
        tj.stop_button(key, live, snapshot)
        if progress is not None and progress.steps_done == 0:
            st.caption("The first evaluation appears after the first step.")
    elif snapshot.status == "failed":
        st.error(f"Fine-tuning failed: {snapshot.error}", icon=":material/error:")
    else:
        evaluation = next((e for e in snapshot.events if isinstance(e, EvaluationEvent)), None)
        done = next(e for e in events if e["type"] == "done")
        verb = "Finished" if done["reason"] == "finished" else "Stopped"
        tested = f": test accuracy {evaluation.test.accuracy:.1%}" if evaluation else ""
        kept = ("Only its LoRA adapter is saved: compare it with full fine-tuning on the LoRA page."
                if done.get("checkpoint") and is_adapter(done["checkpoint"])
                else "The classifier is saved and is now the one used below.")
        st.success(f"{verb} after {plural(done['step'], 'step')} ({format_duration(done['elapsed'])}){tested}. {kept}",
                   icon=":material/check_circle:")
        xp.add_to_entry(key, xp.finished_run(key, "spam", events))


def _live_charts(key: str) -> None:
    live = tj.shared_training().latest
    if live is None or live.kind != "spam":
        return
    events = run_view.as_dicts(live.job.snapshot().events)

    def build() -> tuple[alt.LayerChart, alt.LayerChart] | None:
        rows = run_view.loss_rows(events, "this run")
        if not rows:
            return None
        batches = pd.DataFrame(tj.thin(run_view.batch_rows(events, "this run")))
        loss = loss_chart(pd.DataFrame(tj.thin(rows)), run_view.epoch_ends(events), "epoch", batches, height=260)
        return loss, accuracy_chart(pd.DataFrame(tj.thin(run_view.accuracy_rows(events, "this run"))))

    charts = tj.drawn_once(f"{key}_live_charts", (live.number, len(events)), build)
    if charts is not None:
        left, right = st.columns(2)
        left.altair_chart(charts[0], width="stretch")
        right.altair_chart(charts[1], width="stretch")


def accuracy_chart(data: pd.DataFrame) -> alt.Chart:
    """Training and validation accuracy against epochs (chance is 50 %: the classes are balanced)."""
    lines = alt.Chart(data).mark_line(point=True).encode(
        x=alt.X("epoch:Q", title="Epochs", axis=alt.Axis(format="~g")),
        y=alt.Y("accuracy:Q", title="Accuracy", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
        strokeDash=DASHES,
        tooltip=["split", "step", "epoch", alt.Tooltip("accuracy", format=".1%")],
    )
    chance = alt.Chart(pd.DataFrame({"accuracy": [0.5]})).mark_rule(color="gray", strokeDash=[2, 3]).encode(
        y="accuracy:Q")
    return alt.layer(lines, chance).properties(height=260, title=alt.Title(
        "Accuracy", subtitle="solid: training · dashed: validation · dotted: chance (50 %)"))


# ---------------------------------------------------------------------------------------------
# 4. Results of a saved classifier


def saved_classifiers() -> list[Checkpoint]:
    """Complete classifiers, newest first (damaged and incomplete ones are listed in `saved_section`)."""
    return [run for run in saved.complete(classifiers_dir()) if run.head is not None]


@st.cache_resource(max_entries=2, show_spinner="Loading the classifier...")
def cached_classifier(path: str, created: str) -> GPTClassifier:
    """A saved classifier in evaluation mode, shared between sessions: only ever used to classify."""
    return load_classifier(path)[0]


def choose_classifier(key: str) -> tuple[Checkpoint, GPTClassifier] | None:
    """The newest saved classifier by default; None (with what to do) when there is none."""
    saved = saved_classifiers()
    if not saved:
        st.info("No classifier yet: fine-tune one above (from scratch takes a few minutes on a CPU).",
                icon=":material/model_training:")
        return None
    chosen = st.selectbox("Classifier", saved, format_func=_classifier_label, key=f"{key}_classifier")
    try:
        return chosen, cached_classifier(str(chosen.path), chosen.created)
    except CheckpointError as err:
        st.error(f"Could not load classifier {chosen.run_id}: {err}", icon=":material/error:")
        return None


def _classifier_label(run: Checkpoint) -> str:
    accuracy = run.results.accuracy.get("test") if run.results else None
    tested = f", test accuracy {accuracy:.1%}" if accuracy is not None else ""
    return f"{run.run_id} · {str(run.settings.get('base', '?'))[:80]} · {run_state(run)}{tested}"


def results_section(key: str, chosen: Checkpoint, classifier: GPTClassifier, messages: list[Message] | None) -> None:
    """Accuracy per split, a confusion matrix and the messages it got wrong."""
    results = chosen.results or Results()
    accuracy = results.accuracy
    cols = st.columns(3)
    for col, (split, name) in zip(cols, SPLITS.items(), strict=False):
        value = accuracy.get(split)
        col.metric(f"{name.capitalize()} accuracy", "n/a" if value is None else f"{value:.1%}")
    split = st.radio("Split", tuple(SPLITS), index=2, format_func=SPLITS.get, horizontal=True, key=f"{key}_split")
    confusion = results.confusion.get(split)
    if not confusion:
        st.caption("This classifier was saved without its evaluation.")
        return
    left, right = st.columns([2, 3])
    left.altair_chart(confusion_chart(confusion), width="stretch")
    lines = results.misclassified_lines.get(split, [])
    with right:
        if not lines:
            st.success(f"No {SPLITS[split]} message was misclassified.", icon=":material/check_circle:")
        elif messages is None:
            st.caption(f"{plural(len(lines), 'message')} misclassified; the dataset is needed to show them.")
        else:
            st.markdown(f"**{plural(len(lines), f'misclassified {SPLITS[split]} message')}**")
            st.dataframe(pd.DataFrame(_misclassified(str(chosen.path), chosen.created, tuple(lines))),
                         hide_index=True, width="stretch", height=260,
                         column_config={"spam probability": st.column_config.ProgressColumn(
                             format="percent", min_value=0.0, max_value=1.0)})


@st.cache_data(max_entries=8, show_spinner=False)
def _misclassified(path: str, created: str, lines: tuple[int, ...]) -> list[dict[str, Any]]:
    by_line = {m.line: m for m in load_dataset() or []}
    classifier = cached_classifier(path, created)
    rows = []
    for line in lines:
        message = by_line.get(line)
        if message is not None:
            prediction = classify(classifier, message.text)
            rows.append({"message": message.text, "true label": message.label_name,
                         "predicted": prediction.label, "spam probability": prediction.probabilities["spam"]})
    return rows


def confusion_chart(confusion: list[list[int]]) -> alt.LayerChart:
    """Rows: the true label; columns: the prediction; the diagonal is right."""
    data = pd.DataFrame([{"true": LABELS[t], "predicted": LABELS[p], "messages": n, "right": t == p}
                         for t, row in enumerate(confusion) for p, n in enumerate(row)])
    base = alt.Chart(data).encode(x=alt.X("predicted:N", title="predicted", axis=alt.Axis(labelAngle=0, orient="top")),
                                  y=alt.Y("true:N", title="true label"))
    cells = base.mark_rect().encode(
        color=alt.Color("right:N", scale=alt.Scale(domain=[True, False], range=["#9ecae9", "#f4a582"]), legend=None),
        tooltip=["true", "predicted", "messages"])
    counts = base.mark_text(fontSize=18).encode(text="messages:Q")
    return alt.layer(cells, counts).properties(height=200, title="Confusion matrix")


# ---------------------------------------------------------------------------------------------
# 5. Trying it out


def _use_example(key: str, label: str) -> None:
    st.session_state[f"{key}_message"] = EXAMPLES[label]


def try_section(key: str, classifier: GPTClassifier, compact: bool = False) -> None:
    """Classify a typed message, or one of the two examples, with a probability bar."""
    cols = st.columns(2)
    cols[0].button("Example: obvious spam", key=f"{key}_example_spam", on_click=_use_example, args=(key, "spam"),
                   icon=":material/campaign:", width="stretch")
    cols[1].button("Example: a normal message", key=f"{key}_example_ham", on_click=_use_example, args=(key, "ham"),
                   icon=":material/chat:", width="stretch")
    field = st.text_input if compact else st.text_area
    text = within_limit(field("Message", key=f"{key}_message", placeholder="Type or paste a text message"),
                        MAX_MESSAGE_CHARS)
    try:
        prediction = classify(classifier, text)
    except ClassifierInputError:
        st.caption("Type or paste a message, or pick an example, to see what the classifier says.")
        return
    except (TextTooLong, InvalidText, TokenizerUnavailable) as err:
        st.error(str(err), icon=":material/error:")
        return
    spam = prediction.probabilities["spam"]
    verdict = ":red[**spam**]" if prediction.label == "spam" else ":blue[**not spam (ham)**]"
    st.markdown(f"The classifier says {verdict}: {max(spam, 1 - spam):.1%} sure.")
    st.altair_chart(probability_bar(prediction.probabilities), width="stretch")
    if not compact:
        why_section(key, classifier, text)
    if prediction.truncated:
        st.caption(f"The message is long: only its first {prediction.tokens_used} tokens were read, "
                   "as in training.")


def why_section(key: str, classifier: GPTClassifier, text: str) -> None:
    """Which tokens pushed the answer: how the spam probability changes when each one is left out."""
    # Remembered per session while the text and classifier stay (a weak reference never keeps a model alive).
    memo = st.session_state.get(f"{key}_why")
    if memo is not None and memo[0]() is classifier and memo[1] == text:
        influence = memo[2]
    else:
        try:
            influence = token_influence(classifier, text)
        except CannotExplain as err:
            st.caption(f"Which tokens mattered is not shown: {err}.")
            return
        st.session_state[f"{key}_why"] = (weakref.ref(classifier), text, influence)
    st.markdown("**Why?** Each token, coloured by how much it moved the spam probability:")
    show_colored_tokens(influence)
    strongest = sorted(influence, key=lambda piece: -abs(piece[1]))[:5]
    st.dataframe(pd.DataFrame({"token": [repr(t) for t, _ in strongest], "points": [d * 100 for _, d in strongest]}),
                 hide_index=True, column_config={"points": st.column_config.NumberColumn(
                     "change in spam probability (points)", format="%+.1f")})
    st.caption("Each token was left out in turn and the message classified again. Red: without it the message "
               "looks less like spam, so it pushed towards spam; blue: it pushed towards ham. The stronger the "
               "colour, the bigger the push (hover a token for the number). One token at a time: words that only "
               "matter together can each look small.")


def probability_bar(probabilities: dict[str, float]) -> alt.Chart:
    data = pd.DataFrame([{"label": label, "probability": p} for label, p in probabilities.items()])
    return alt.Chart(data).mark_bar().encode(
        x=alt.X("probability:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%"), title=None),
        y=alt.Y("label:N", title=None, sort=list(LABELS)),
        color=alt.Color("label:N", scale=LABEL_COLOURS, legend=None),
        tooltip=["label", alt.Tooltip("probability", format=".1%")],
    ).properties(height=90)


# ---------------------------------------------------------------------------------------------
# 6. A whole file


def batch_section(key: str, chosen: Checkpoint, classifier: GPTClassifier) -> None:
    """Classify every message of an uploaded CSV and offer the results as a CSV download."""
    upload = st.file_uploader(
        f"A CSV file with a `text` (or `message`) column; an optional `label` column (ham / spam) is scored. "
        f"At most {sb.MAX_ROWS:,} messages, {sb.MAX_CSV_MB} MB.",
        type=["csv"], max_upload_size=sb.MAX_CSV_MB, key=f"{key}_csv")
    if upload is None:
        return
    try:
        batch = sb.read_batch_csv(upload.name, upload.getvalue())
    except sb.BatchFileError as err:
        st.error(str(err), icon=":material/error:")
        return
    done_key = f"{key}_batch_results"
    ident = (upload.file_id, str(chosen.path))
    results = st.session_state.get(done_key)
    if results is None or results[0] != ident:
        labelled = f" and labels from `{batch.label_column}`" if batch.label_column else ""
        st.caption(f"{plural(len(batch.texts), 'message')} from column `{batch.text_column}`{labelled}.")
        if not st.button(f"Classify {plural(len(batch.texts), 'message')}", type="primary", key=f"{key}_batch_run"):
            return
        bar = st.progress(0.0, text="Classifying...")
        rows = []
        for row in sb.classify_batch(classifier, batch):
            rows.append(row)
            bar.progress(len(rows) / len(batch.texts), text=f"Classified {len(rows):,} of {len(batch.texts):,}")
        bar.empty()
        st.session_state[done_key] = results = (ident, rows)
    rows = results[1]
    spam = sum(r["prediction"] == "spam" for r in rows)
    summary = f"{spam:,} of {len(rows):,} messages look like spam."
    score = sb.batch_accuracy(rows)
    if score is not None:
        summary += f" Against the file's labels: {score[0]:,} of {score[1]:,} right ({score[0] / score[1]:.1%})."
    st.markdown(summary)
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", height=300,
                 column_config={"spam_probability": st.column_config.ProgressColumn(
                     "spam probability", format="percent", min_value=0.0, max_value=1.0)})
    st.download_button("Download the results (CSV)", sb.results_csv(rows), file_name="spam-results.csv",
                       mime="text/csv", key=f"{key}_batch_download", icon=":material/download:", on_click="ignore")


# ---------------------------------------------------------------------------------------------
# 7. Saved classifiers


def saved_section(key: str) -> None:
    """Every saved classifier with its state and size; delete the ones not needed."""
    saved.saved_runs_view(key, classifiers_dir(), what="classifier",
                          empty="None yet: each fine-tuning run saves its classifier here.")


# ---------------------------------------------------------------------------------------------
# Compact version for journal entries


def compact(key: str) -> None:
    """Classify a message with the newest saved classifier."""
    saved = saved_classifiers()
    if not saved:
        st.caption("No spam classifier yet: fine-tune one on the Spam classifier page (in the sidebar), "
                   "then test messages here.")
        return
    newest = saved[0]
    try:
        classifier = cached_classifier(str(newest.path), newest.created)
    except CheckpointError as err:
        st.warning(f"Could not load the newest classifier: {err}", icon=":material/error:")
        return
    st.caption(f"Classifier {_classifier_label(newest)}.")
    try_section(key, classifier, compact=True)
