"""Live pretraining (book chapter 5): choose a text and a model, train in the background, watch the loss fall.

The run itself is `core.gpt.pretrain.pretrain_run` in the server's one training slot (`ui.training_job`);
this module only draws: the set-up, a fragment that re-reads the job's events every second, and
earlier runs to compare with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from core.app.corpora import (
    CORPUS_FILES,
    JOURNAL,
    MAX_UPLOAD_MB,
    UPLOAD,
    VERDICT,
    CorpusError,
    CorpusUnavailable,
    corpus_available,
    corpus_text,
    journal_text,
    uploaded_text,
)
from core.app.estimates import (
    available_memory,
    estimate_training,
    format_duration,
    measured_flops,
)
from core.errors import UserError
from core.gpt.checkpoint import (
    Checkpoint,
    CheckpointError,
    current_checkpoint,
    delete_run,
    list_runs,
    read_checkpoint,
    run_path,
)
from core.gpt.config import GPT2_VOCAB_SIZE, PRESETS
from core.gpt.device import DEVICES, resolve_device
from core.gpt.fastpath import bf16_supported
from core.gpt.params import count_parameters
from core.gpt.pretrain import (
    BOOK_PROMPT,
    make_loaders,
    model_config,
    pretrain_run,
)
from core.gpt.tokenizers import TokenizerUnavailable, encode
from core.gpt.train import TrainSettings
from core.widgets import run_view
from ui import training_job as tj
from ui.charts import loss_chart, perplexity_chart

CORPUS_LABELS = {JOURNAL: "The journal itself", VERDICT: '"The Verdict" (the book\'s story)'}
CORPUS_LABELS |= {name: corpus.title for name, corpus in CORPUS_FILES.items() if name not in CORPUS_LABELS}
CORPUS_LABELS[UPLOAD] = "Your own .txt file"
LEARNING_RATES = (1e-5, 5e-5, 1e-4, 2e-4, 4e-4, 1e-3, 2e-3, 5e-3)
BATCH_SIZES = (1, 2, 4, 8, 16, 32)
CONTEXT_LENGTHS = (16, 32, 64, 128, 256, 512, 1024)
REFRESH_S = 1.0
LONG_RUN_S = 15 * 60
NEW, RESUME = "new", "resume"


@dataclass(frozen=True)
class Corpus:
    name: str
    label: str
    text: str
    token_ids: list[int]


@dataclass(frozen=True)
class Plan:
    """Everything a run needs, checked: what `pretrain_run` gets."""

    corpus: Corpus
    preset: str
    settings: TrainSettings
    batch_size: int
    context_length: int
    resume: Checkpoint | None
    sample_prompt: str
    summary: str
    compact_vocab: bool = False


# ---------------------------------------------------------------------------------------------
# Cached helpers (the tokenizer pass and the run folder are the slow parts)


@st.cache_data(max_entries=8, show_spinner="Tokenizing the text...")
def _token_ids(text: str) -> list[int]:
    return encode(text, allow_special=True)


def _runs_signature() -> tuple[tuple[str, float], ...]:
    from core.paths import runs_dir

    folder = runs_dir()
    files = folder.glob("*/checkpoint.json") if folder.is_dir() else []
    return tuple(sorted((str(f), f.stat().st_mtime) for f in files))


@st.cache_data(max_entries=4, show_spinner=False)
def _runs(signature: tuple[tuple[str, float], ...]) -> list[Checkpoint]:
    return list_runs()


def saved_runs() -> list[Checkpoint]:
    """Complete checkpoints, newest first, re-read only when a checkpoint file changed."""
    return _runs(_runs_signature())


def _device_label(choice: str) -> str:
    if choice == "auto":
        return f"auto ({resolve_device('auto').type} here)"
    return choice


def _preset_label(name: str) -> str:
    millions = count_parameters(PRESETS[name]).total / 1e6
    return f"{name} ({millions:,.0f} M parameters)"


# ---------------------------------------------------------------------------------------------
# 1. The text


def corpus_section(key: str) -> Corpus | None:
    """The journal (always there), The Verdict, or an uploaded file, with its size in tokens."""
    choice = st.radio("Text to train on", tuple(CORPUS_LABELS), format_func=CORPUS_LABELS.get,
                      horizontal=True, key=f"{key}_corpus")
    try:
        text = _corpus_text(key, choice)
    except (CorpusUnavailable, CorpusError) as err:
        st.warning(str(err), icon=":material/warning:")
        return None
    if text is None:
        return None
    try:
        ids = _token_ids(text)
    except TokenizerUnavailable as err:
        st.error(str(err), icon=":material/error:")
        return None
    st.caption(f"{len(text):,} characters, {len(ids):,} GPT-2 tokens: 90 % for training, 10 % to validate.")
    with st.expander("Preview the text"):
        st.text(text[:2_000] + (" [...]" if len(text) > 2_000 else ""))
    return Corpus(choice, CORPUS_LABELS[choice], text, ids)


def _corpus_text(key: str, choice: str) -> str | None:
    if choice == JOURNAL:
        return journal_text()
    if choice in CORPUS_FILES:
        if corpus_available(choice):
            return corpus_text(choice)
        corpus = CORPUS_FILES[choice]
        st.info(f"{corpus.title} is not in the data folder yet. The app can download it from {corpus.url}, "
                "which takes an internet connection.", icon=":material/download:")
        if not st.button(f"Download {corpus.title}", key=f"{key}_download_{choice}"):
            return None
        with st.spinner("Downloading..."):
            return corpus_text(choice, download=True)
    upload = st.file_uploader(f"A plain-text file (.txt, UTF-8, at most {MAX_UPLOAD_MB} MB)", type=["txt"],
                              max_upload_size=MAX_UPLOAD_MB, key=f"{key}_upload")
    if upload is None:
        st.caption("Upload a file to train on it.")
        return None
    return uploaded_text(upload.name, upload.getvalue())


# ---------------------------------------------------------------------------------------------
# 2. The model and the training settings


def plan_section(key: str, corpus: Corpus) -> Plan | None:
    """A new model of a preset size, or a saved run to continue; the settings; an honest estimate."""
    runs = saved_runs()
    start = st.radio("Start from", (NEW, RESUME), horizontal=True, key=f"{key}_start",
                     format_func={NEW: "A new, untrained model", RESUME: "A saved run (resume training)"}.get,
                     disabled=not runs, help=None if runs else "No saved runs yet.")
    resume = None
    if start == RESUME and runs:
        resume = st.selectbox("Run to continue", runs, format_func=_run_label, key=f"{key}_resume_run")
        preset = resume.settings.get("preset", "custom")
        context_length = resume.config["context_length"]
        st.caption(f"Continues the {preset} model with its context length of {context_length} tokens, "
                   "its optimizer state and its loss history.")
    else:
        left, right = st.columns(2)
        preset = left.selectbox("Model size", tuple(PRESETS), format_func=_preset_label, key=f"{key}_preset")
        longest = PRESETS[preset]["context_length"]
        options = [c for c in CONTEXT_LENGTHS if c <= longest]
        context_length = right.select_slider("Context length (tokens per window)", options,
                                             value=min(longest, 256), key=f"{key}_context")

    cols = st.columns(5)
    epochs = cols[0].number_input("Epochs", 1, 500, 10, key=f"{key}_epochs")
    lr = cols[1].select_slider("Learning rate", LEARNING_RATES, value=4e-4, format_func=lambda v: f"{v:g}",
                               key=f"{key}_lr")
    batch_size = cols[2].select_slider("Batch size", BATCH_SIZES, value=2, key=f"{key}_batch")
    eval_freq = cols[3].number_input("Evaluate every N steps", 1, 10_000, 5, key=f"{key}_eval_freq")
    seed = cols[4].number_input("Seed", 0, 2**31 - 1, 123, key=f"{key}_seed")
    with st.expander("More settings"):
        cols = st.columns(4)
        eval_iter = cols[0].number_input("Batches per evaluation", 1, 100, 5, key=f"{key}_eval_iter")
        weight_decay = cols[1].number_input("Weight decay", 0.0, 1.0, 0.1, step=0.05, key=f"{key}_wd")
        warmup = cols[2].number_input("Warm-up steps", 0, 100_000, 0, key=f"{key}_warmup",
                                      help="Raise the learning rate linearly over the first steps (appendix D.1).")
        clip = cols[3].number_input("Clip gradient norm (0 = off)", 0.0, 100.0, 0.0, step=0.5, key=f"{key}_clip",
                                    help="Appendix D.3.")
        native = bf16_supported()
        bf16 = st.toggle("bfloat16 matrix products", value=native, disabled=not native, key=f"{key}_bf16",
                         help="Faster on CPUs with native bf16 (weights and the loss stay float32)." if native
                         else "This CPU has no native bf16, where it would be slower: training uses float32.")
        device = st.selectbox("Device", DEVICES, format_func=_device_label, key=f"{key}_device",
                              help="auto takes a CUDA GPU, then Apple's MPS, then the CPU.")
        used = len(set(corpus.token_ids))
        compact_vocab = resume is None and st.checkbox(
            f"Compact vocabulary: only the {used:,} GPT-2 tokens this text uses", value=True,
            disabled=resume is not None, key=f"{key}_compact_vocab",
            help=f"Embeds and scores {used + 1:,} tokens (the rest share one 'unknown' token) instead of all "
                 f"{GPT2_VOCAB_SIZE:,}: far fewer parameters in the embedding and output head, so training is "
                 "much faster on a CPU. The tokenizer and the text stay GPT-2's. Its losses compare only with "
                 "runs on the same vocabulary (a smaller vocabulary starts lower). Untick for the book's full "
                 "vocabulary. A resumed run keeps its own vocabulary.")
        sample_prompt = st.text_input("Sample prompt (the model continues it after each epoch)", BOOK_PROMPT,
                                      max_chars=200, key=f"{key}_prompt")

    try:
        settings = TrainSettings(epochs=int(epochs), lr=float(lr), weight_decay=float(weight_decay),
                                 eval_freq=int(eval_freq), eval_iter=int(eval_iter), warmup_steps=int(warmup),
                                 grad_clip=float(clip) or None, seed=int(seed), bf16=bool(bf16), device=device)
        resolve_device(device)
        cfg = resume.config if resume else model_config(preset, context_length)
        if compact_vocab:
            full = count_parameters(cfg).total
            cfg = {**cfg, "vocab_size": len(set(corpus.token_ids)) + 1}
            st.caption(f"Compact vocabulary: {count_parameters(cfg).total / 1e6:,.1f} M parameters instead of "
                       f"{full / 1e6:,.1f} M; losses compare only with runs on this text's compact vocabulary.")
        train_loader, _ = make_loaders(corpus.token_ids, cfg["context_length"], int(batch_size), seed=int(seed))
    except UserError as err:
        st.error(str(err), icon=":material/error:")
        return None
    estimate = estimate_training(cfg, len(train_loader), settings.epochs, int(batch_size), settings.eval_freq,
                                 settings.eval_iter, flops_per_s=measured_flops(current_checkpoint()),
                                 available_bytes=available_memory())
    _show_estimate(estimate)
    if not estimate.fits:
        return None
    action = f"resume run {resume.run_id}" if resume else preset
    summary = f"{action} on {corpus.label.lower()}, {settings.epochs} epoch{'s' * (settings.epochs > 1)}"
    return Plan(corpus, preset, settings, int(batch_size), cfg["context_length"], resume,
                sample_prompt.strip(), summary, bool(compact_vocab))


def _run_label(run: Checkpoint) -> str:
    progress = run.progress
    return (f"{run.run_id} · {run.settings.get('preset', 'custom')} · {run.status} after "
            f"{int(progress.get('step', 0)):,} steps")


def _show_estimate(estimate: Any) -> None:
    speed = (f"the speed your last run measured here ({estimate.flops_per_s / 1e9:,.0f} GFLOP/s)" if estimate.measured
             else f"about {estimate.flops_per_s / 1e9:,.0f} GFLOP/s, typical of a 2-core laptop CPU")
    memory = f"about {estimate.memory_bytes / 2**30:,.1f} GB of memory"
    if estimate.available_bytes is not None:
        memory += f" ({estimate.available_bytes / 2**30:,.1f} GB free now)"
    text = (f"**{estimate.total_steps:,} steps** ({estimate.steps_per_epoch:,} per epoch, "
            f"{estimate.train_tokens:,} training tokens): about **{format_duration(estimate.seconds)}** at "
            f"{speed}, evaluations and samples included; {memory}.")
    if not estimate.fits:
        st.error(text + " That is more memory than this machine has free: choose a smaller model, "
                 "batch size or context length.", icon=":material/memory:")
    elif estimate.seconds > LONG_RUN_S:
        st.warning(text + " That is long for a CPU: a smaller model, fewer epochs or a shorter context "
                   "is much faster. You can stop at any time and keep what was learned.", icon=":material/schedule:")
    else:
        st.caption(text)


# ---------------------------------------------------------------------------------------------
# 3. Start and stop


def start_section(key: str, plan: Plan | None) -> None:
    """The start button, or why a run cannot start now."""
    if not tj.free_to_start("pretraining"):
        return
    if st.button("Start training", type="primary", disabled=plan is None, key=f"{key}_start_button",
                 icon=":material/play_arrow:"):
        _start(key, plan)


def _start(key: str, plan: Plan) -> None:
    def work(stop: Any) -> Any:
        return pretrain_run(
            plan.corpus.text, plan.preset, plan.settings, batch_size=plan.batch_size,
            context_length=None if plan.resume else plan.context_length,
            resume_from=plan.resume.path if plan.resume else None, stop=stop,
            sample_prompt=plan.sample_prompt or None, compact_vocab=plan.compact_vocab,
        )

    if tj.start_job(key, "pretraining", plan.summary, work):
        st.rerun()  # redraw the page in its training state


# ---------------------------------------------------------------------------------------------
# 4. The live chart


def live_section(key: str, compact: bool = False) -> None:
    """The running (or last) pretraining run, redrawn every second while it trains."""
    live = tj.shared_training().latest
    running = live is not None and live.kind == "pretraining" and live.job.running
    st.fragment(_live_view, run_every=REFRESH_S if running else None)(key, compact)


def _live_view(key: str, compact: bool) -> None:
    live = tj.shared_training().latest
    if live is None or live.kind != "pretraining":
        _saved_view(key, compact)
        return
    snapshot = live.job.snapshot()
    events = run_view.as_dicts(snapshot.events)
    tj.rerun_when_done(key, snapshot.running)
    start = next((e for e in events if e["type"] == "start"), None)
    label = f"run {start['run_id']}" if start else "this run"
    st.markdown(f"**{label.capitalize()}**{tj.owner_note(key, live)}: {live.summary}")
    _status(key, live, snapshot, events)
    if start is None:
        return
    history = _previous_history(start["resumed_from"]) + events
    _charts(key, history, label, compact, exclude=start["run_id"])


def _status(key: str, live: tj.LiveJob, snapshot: Any, events: list[dict[str, Any]]) -> None:
    progress = run_view.run_progress(events)
    if snapshot.running:
        tj.progress_bar(progress, tj.stopping(key, live))
        if progress is not None:
            _metrics(progress)
        tj.stop_button(key, live)
        return
    done = next((e for e in events if e["type"] == "done"), None)
    if snapshot.status == "failed" or done is None:
        st.error(f"The run failed: {snapshot.error}", icon=":material/error:")
        return
    tj.progress_bar(progress)
    _metrics(progress)
    verb = "Finished" if done["reason"] == "finished" else "Stopped"
    st.success(f"{verb} after {done['step']:,} steps and {done['tokens_seen']:,} tokens "
               f"({format_duration(done['elapsed'])}). The checkpoint is saved: it is now the current model "
               "for the Sampling and Spam classifier pages, and you can resume it above.",
               icon=":material/check_circle:")


def _metrics(progress: run_view.RunProgress) -> None:
    cols = st.columns(4)
    cols[0].metric("Tokens seen", f"{progress.tokens_seen:,}")
    if progress.last_train_loss is not None:
        cols[1].metric("Training loss", f"{progress.last_train_loss:.3f}")
        cols[2].metric("Validation loss", f"{progress.last_val_loss:.3f}")
        cols[3].metric("Validation perplexity", f"{run_view.perplexity(progress.last_val_loss):,.1f}",
                       help="exp(loss): roughly how many tokens the model is still choosing among.")


@st.cache_data(max_entries=16, show_spinner=False)
def _previous_history(run_id: str | None) -> list[dict[str, Any]]:
    """The saved history a resumed run continues (empty when the run is new or its folder is gone)."""
    if not run_id:
        return []
    try:
        return read_checkpoint(run_path(run_id)).history
    except CheckpointError:
        return []


def _saved_view(key: str, compact: bool) -> None:
    """No run on this server yet: show the current model's saved curves."""
    current = next(iter(saved_runs()), None)
    if current is None:
        st.caption("No run yet: start one above, and its loss curves appear here live.")
        return
    st.markdown(f"**Current model: run {current.run_id}** ({current.status} after "
                f"{int(current.progress.get('step', 0)):,} steps)")
    _charts(key, current.history, f"run {current.run_id}", compact, exclude=current.run_id)


# ---------------------------------------------------------------------------------------------
# Charts


def _charts(key: str, history: list[dict[str, Any]], label: str, compact: bool, exclude: str) -> None:
    rows = run_view.loss_rows(history, label)
    ends = run_view.epoch_ends(history)
    if not compact:
        others = [r for r in saved_runs() if r.run_id != exclude]
        overlay = st.multiselect("Compare with earlier runs", others, format_func=_run_label, key=f"{key}_overlay",
                                 placeholder="Choose runs to overlay" if others else "No earlier runs yet")
        for run in overlay:
            rows += run_view.loss_rows(run.history, f"run {run.run_id}")
        x = st.radio("Horizontal axis", ("tokens_seen", "epoch"), horizontal=True, key=f"{key}_x",
                     format_func={"tokens_seen": "Tokens seen", "epoch": "Epochs"}.get)
    else:
        x = "tokens_seen"
    if not rows:
        st.caption("The first evaluation appears after the first step.")
        return
    data = pd.DataFrame(rows)
    batches = pd.DataFrame(run_view.batch_rows(history, label))
    if compact:
        st.altair_chart(loss_chart(data, ends, x, batches, height=180), width="stretch")
    else:
        left, right = st.columns([3, 2])
        left.altair_chart(loss_chart(data, ends, x, batches), width="stretch")
        right.altair_chart(perplexity_chart(data, x), width="stretch")
        _samples(history)


def _samples(history: list[dict[str, Any]]) -> None:
    written = run_view.samples(history)
    if not written:
        return
    latest = written[0]
    st.markdown(f"**What the model writes after epoch {latest['epoch']}**")
    st.code(latest["text"] or "(nothing)", language=None, wrap_lines=True)
    if len(written) > 1:
        with st.expander("Earlier epochs"):
            st.dataframe(pd.DataFrame(written[1:]), hide_index=True, width="stretch")


# ---------------------------------------------------------------------------------------------
# 5. Saved runs


def runs_section(key: str) -> None:
    """Every saved run: the newest is the current model."""
    deleted = st.session_state.pop(f"{key}_deleted", None)
    if deleted:
        (st.success if deleted[0] else st.error)(deleted[1])
    runs = saved_runs()
    if not runs:
        st.caption("None yet. Each finished or stopped run is saved here, the newest one being the current model.")
        return
    rows = []
    for run in runs:
        evals = [e for e in run.history if e.get("type") == "eval"]
        rows.append({
            "run": run.run_id,
            "saved (UTC)": run.created[:19].replace("T", " "),
            "model": run.settings.get("preset", "custom"),
            "status": run.status,
            "steps": int(run.progress.get("step", 0)),
            "tokens seen": int(run.progress.get("tokens_seen", 0)),
            "validation loss": evals[-1]["val_loss"] if evals else None,
            "resumed from": run.meta.get("resumed_from") or "",
            "size on disk (MB)": run.size_bytes / 1e6,
        })
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key=f"{key}_runs",
                 column_config={"validation loss": st.column_config.NumberColumn(format="%.3f"),
                                "size on disk (MB)": st.column_config.NumberColumn(format="%.0f")})
    st.caption(f"The current model is run {runs[0].run_id}, the newest. Overlay earlier runs on the chart above.")
    _delete_section(key, runs)


def _delete_section(key: str, runs: list[Checkpoint]) -> None:
    with st.expander("Delete a run", icon=":material/delete:"):
        st.caption("A run keeps its weights and the optimizer's state, so that it can resume exactly; "
                   "the state takes twice the weights' space. Deleting the newest run makes the one before "
                   "it the current model.")
        run = st.selectbox("Run to delete", runs, format_func=_run_label, key=f"{key}_delete_run")
        sure = st.checkbox(f"Yes, delete run {run.run_id} and its {run.size_bytes / 1e6:,.0f} MB",
                           key=f"{key}_delete_sure")
        st.button("Delete run", disabled=not sure, key=f"{key}_delete", icon=":material/delete:",
                  on_click=_delete, args=(key, run.run_id))


def _delete(key: str, run_id: str) -> None:
    st.session_state[f"{key}_delete_sure"] = False  # the next deletion asks again
    try:
        delete_run(run_id)
    except (CheckpointError, OSError) as err:
        st.session_state[f"{key}_deleted"] = (False, f"Could not delete run {run_id}: {err}")
    else:
        st.session_state[f"{key}_deleted"] = (True, f"Deleted run {run_id}.")


# ---------------------------------------------------------------------------------------------
# Compact version for journal entries


def compact(key: str) -> None:
    """A quick run of the tiny model on the journal, with its live loss chart."""
    live = tj.shared_training().latest
    plan = None
    if live is None or not live.job.running:
        epochs = st.slider("Epochs", 1, 20, 5, key=f"{key}_epochs",
                           help="The tiny model on the journal's own text; the Pretraining page has every setting.")
        corpus = _compact_corpus()
        if corpus is not None:
            plan = Plan(corpus, "tiny", TrainSettings(epochs=epochs), 2, PRESETS["tiny"]["context_length"], None,
                        BOOK_PROMPT, f"tiny on the journal, {epochs} epochs")
    start_section(key, plan)
    live_section(key, compact=True)


def _compact_corpus() -> Corpus | None:
    try:
        text = journal_text()
        return Corpus(JOURNAL, CORPUS_LABELS[JOURNAL], text, _token_ids(text))
    except (CorpusUnavailable, TokenizerUnavailable) as err:
        st.warning(str(err), icon=":material/warning:")
        return None
