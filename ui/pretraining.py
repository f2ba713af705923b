"""Live pretraining (book chapter 5): choose a text and a model, train in the background, watch the loss fall.

The run itself is `core.gpt.pretrain.pretrain_run` in the server's one training slot (`ui.training_job`);
this module only draws: the set-up, a fragment that re-reads the job's events every 2 s, and
earlier runs to compare with.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
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
    speed_for,
)
from core.app.runs import run_label, run_state
from core.errors import UserError
from core.gpt.checkpoint import (
    Checkpoint,
    CheckpointError,
    drop_optimizer,
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
from core.text import plural
from core.widgets import run_view
from ui import experiments as xp
from ui import runs as saved
from ui import training_job as tj
from ui.charts import loss_chart, perplexity_chart
from ui.corpus_download import offer_download

CORPUS_LABELS = {JOURNAL: "The journal itself", VERDICT: '"The Verdict" (the book\'s story)'}
CORPUS_LABELS |= {name: corpus.title for name, corpus in CORPUS_FILES.items() if name not in CORPUS_LABELS}
CORPUS_LABELS[UPLOAD] = "Your own .txt file"
COMPACT_PRESETS = ("shakespeare",)  # presets that train on a compact vocabulary unless the learner says otherwise
LEARNING_RATES = (1e-5, 5e-5, 1e-4, 2e-4, 4e-4, 1e-3, 2e-3, 5e-3)
BATCH_SIZES = (1, 2, 4, 8, 16, 32)
CONTEXT_LENGTHS = (16, 32, 64, 128, 256, 512, 1024)
REFRESH_S = 2.0
CHART_REFRESH_S = 10.0
BOOK_UNTRAINED_PERPLEXITY = 48_725  # section 5.1.2's untrained GPT-2 small on its two example texts
LONG_RUN_S = 15 * 60
NEW, RESUME = "new", "resume"
# Day 16's figure on a CPU in minutes: The Verdict, the overfit preset (no dropout), several epochs.
OVERFIT_RECIPE = {"corpus": VERDICT, "start": NEW, "preset": "overfit", "context": 64, "epochs": 15, "lr": 1e-3,
                  "batch": 4, "eval_freq": 18}


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
    memory_bytes: int | None = None
    keep_optimizer: bool = False  # for a finished run; a stopped one always keeps it, to resume exactly
    compact_vocab: bool = False


# ---------------------------------------------------------------------------------------------
# Cached helpers (the tokenizer pass and the run folder are the slow parts)


@st.cache_data(max_entries=8, show_spinner="Tokenizing the text...")
def _token_ids(text: str) -> list[int]:
    return encode(text, allow_special=True)


def saved_runs() -> list[Checkpoint]:
    """Complete checkpoints, newest first, re-read only when a checkpoint file changed."""
    return saved.complete()


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
        offer_download(key, choice, instead="train on the journal")
        return None
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
    st.button("Overfit on purpose", key=f"{key}_overfit", icon=":material/school:", on_click=_overfit, args=(key,),
              help="Day 16: a model with room to memorise The Verdict trains for 15 epochs, so the training "
                   "loss falls well under 1 while the validation loss stalls around 6-7, as in the book's figure.")
    runs = saved_runs()
    start = st.radio("Start from", (NEW, RESUME), horizontal=True, key=f"{key}_start",
                     format_func={NEW: "A new, untrained model", RESUME: "A saved run (resume training)"}.get,
                     disabled=not runs, help=None if runs else "No saved runs yet.")
    resume = None
    if start == RESUME and runs:
        resume = st.selectbox("Run to continue", runs, format_func=run_label, key=f"{key}_resume_run")
        preset = resume.preset
        context_length = resume.config["context_length"]
        state = "its optimizer state" if resume.has_optimizer else "a fresh optimizer (its state was not kept)"
        st.caption(f"Continues the {preset} model with its context length of {context_length} tokens, "
                   f"{state} and its loss history.")
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
        # On by default where speed is the point (the preset sized to learn Tiny Shakespeare in minutes); off for
        # the book's sizes, whose untrained loss the book compares with ln 50,257.
        compact_vocab = resume is None and st.checkbox(
            f"Compact vocabulary: only the {used:,} GPT-2 tokens this text uses", value=preset in COMPACT_PRESETS,
            disabled=resume is not None, key=f"{key}_compact_vocab_{preset}",
            help=f"Embeds and scores {used + 1:,} tokens (the rest share one 'unknown' token) instead of all "
                 f"{GPT2_VOCAB_SIZE:,}: far fewer parameters in the embedding and output head, so training is "
                 "much faster on a CPU. The tokenizer and the text stay GPT-2's. Its losses compare only with "
                 "runs on the same vocabulary (a smaller vocabulary starts lower). Sampling, Attention, the logit "
                 "lens and the game read it over GPT-2's tokens (the tokens it never saw share the unknown "
                 "token's probability); instruction fine-tuning needs a full-vocabulary run. A resumed run keeps "
                 "its own vocabulary.")
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
    # A training part shorter than one batch makes a single, smaller batch of all its windows.
    windows = len(train_loader.dataset)
    per_step = min(int(batch_size), windows)
    if per_step < batch_size:
        st.warning(f"The training part holds only {windows:,} window{'s' * (windows != 1)} of "
                   f"{cfg['context_length']:,} tokens, fewer than one batch of {int(batch_size)}: each step "
                   f"trains on those {windows:,} ({windows * cfg['context_length']:,} tokens). A smaller batch "
                   "gives more steps per epoch.", icon=":material/info:")
    estimate = estimate_training(cfg, len(train_loader), settings.epochs, per_step, settings.eval_freq,
                                 settings.eval_iter, flops_per_s=speed_for(cfg, saved_runs(), saved.current()),
                                 available_bytes=available_memory())
    _show_estimate(estimate)
    if not estimate.fits:
        return None
    keep = st.checkbox("Keep the optimizer state if the run finishes", value=False, key=f"{key}_keep_optimizer",
                       help="It lets a finished run resume exactly, and takes twice the weights' space. A run you "
                            "stop early always keeps it.")
    action = f"resume run {resume.run_id}" if resume else preset
    summary = f"{action} on {corpus.label.lower()}, {plural(settings.epochs, 'epoch')}"
    return Plan(corpus, preset, settings, int(batch_size), cfg["context_length"], resume,
                sample_prompt.strip(), summary, memory_bytes=estimate.memory_bytes, keep_optimizer=keep,
                compact_vocab=bool(compact_vocab))


def _overfit(key: str) -> None:
    for name, value in OVERFIT_RECIPE.items():
        st.session_state[f"{key}_{name}"] = value


def _show_estimate(estimate: Any) -> None:
    speed = (f"the speed a run measured here ({estimate.flops_per_s / 1e9:,.0f} GFLOP/s)" if estimate.measured
             else f"about {estimate.flops_per_s / 1e9:,.0f} GFLOP/s, typical of a 2-core laptop CPU")
    memory = f"about {estimate.memory_bytes / 2**30:,.1f} GB of memory"
    if estimate.available_bytes is not None:
        memory += f" ({estimate.available_bytes / 2**30:,.1f} GB free now)"
    text = (f"**{plural(estimate.total_steps, 'step')}** ({estimate.steps_per_epoch:,} per epoch, "
            f"{estimate.train_tokens:,} training tokens): about **{format_duration(estimate.seconds)}** at "
            f"{speed}, evaluations and samples included; {memory}.{tj.busy_caption()}")
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
    """The start button, or what runs now and a button to queue this run behind it."""
    tj.refused_note(key)
    xp.predict(key, "pretraining")
    if tj.start_button(key, "pretraining", "Start training", disabled=plan is None) and plan is not None:
        _start(key, plan)
    tj.watch_slot(key)


def _start(key: str, plan: Plan) -> None:
    def work(stop: Any) -> Any:
        for event in pretrain_run(
            plan.corpus.text, plan.preset, plan.settings, batch_size=plan.batch_size,
            context_length=None if plan.resume else plan.context_length,
            resume_from=plan.resume.path if plan.resume else None, stop=stop,
            sample_prompt=plan.sample_prompt or None, compact_vocab=plan.compact_vocab,
        ):
            if getattr(event, "reason", None) == "finished" and event.checkpoint and not plan.keep_optimizer:
                drop_optimizer(read_checkpoint(event.checkpoint))
            yield event

    uses = [plan.resume.run_id] if plan.resume else []
    if tj.start_job(key, "pretraining", plan.summary, work, uses=uses, memory_bytes=plan.memory_bytes):
        st.rerun()  # redraw the page in its training (or waiting) state


# ---------------------------------------------------------------------------------------------
# 4. The live chart


def live_section(key: str, compact: bool = False) -> None:
    """The running (or last) pretraining run: its progress redrawn every 2 s, its charts every 10
    seconds and only when new events arrived, so that watching leaves the CPU to the training."""
    live = tj.shared_training().latest
    running = live is not None and live.kind == "pretraining" and live.job.running
    st.fragment(_live_status, run_every=tj.refresh_s(REFRESH_S) if running else None)(key)
    st.fragment(_live_charts, run_every=tj.refresh_s(CHART_REFRESH_S) if running else None)(key, compact)


def _live_events(live: tj.LiveJob | None) -> tuple[Any, list[dict[str, Any]]] | None:
    if live is None or live.kind != "pretraining":
        return None
    snapshot = live.job.snapshot()
    return snapshot, run_view.as_dicts(snapshot.events)


def _live_status(key: str) -> None:
    live = tj.shared_training().latest
    tj.earlier_run_note("pretraining")
    found = _live_events(live)
    if found is None:
        return
    snapshot, events = found
    tj.rerun_when_done(key, snapshot.running)
    start = next((e for e in events if e["type"] == "start"), None)
    label = f"run {start['run_id']}" if start else "this run"
    st.markdown(f"**{label.capitalize()}**{tj.owner_note(key, live)}: {live.summary}")
    _status(key, live, snapshot, events)


def _live_charts(key: str, compact: bool) -> None:
    live = tj.shared_training().latest
    found = _live_events(live)
    if found is None:
        _saved_view(key, compact)
        return
    _, events = found
    start = next((e for e in events if e["type"] == "start"), None)
    if start is None:
        return
    history = _previous_history(start["resumed_from"]) + events
    _charts(key, history, f"run {start['run_id']}", compact, exclude=start["run_id"],
            version=(live.number, len(events)))


def _status(key: str, live: tj.LiveJob, snapshot: Any, events: list[dict[str, Any]]) -> None:
    progress = run_view.run_progress(events)
    tj.stop_note(live, snapshot)
    if snapshot.running:
        tj.progress_bar(progress, tj.stopping(snapshot))
        if progress is not None:
            _metrics(progress)
        tj.stop_button(key, live, snapshot)
        return
    done = next((e for e in events if e["type"] == "done"), None)
    if snapshot.status == "failed" or done is None:
        st.error(f"The run failed: {snapshot.error}", icon=":material/error:")
        return
    verb = "Finished" if done["reason"] == "finished" else "Stopped"
    tj.progress_bar(progress, ended=verb.lower())
    _metrics(progress)
    st.success(f"{verb} after {plural(done['step'], 'step')} and {plural(done['tokens_seen'], 'token')} "
               f"({format_duration(done['elapsed'])}). {_saved_note(done)}", icon=":material/check_circle:")
    xp.add_to_entry(key, xp.finished_run(key, "pretraining", events))


def _saved_note(done: dict[str, Any]) -> str:
    """What became of the run's checkpoint: the current model, another one kept as current, or deleted since."""
    run_id = Path(done["checkpoint"]).name if done.get("checkpoint") else None
    if run_id not in {run.run_id for run in saved_runs()}:
        return "Its checkpoint has since been deleted."
    current = saved.current()
    if current is not None and current.run_id == run_id:
        return ("The checkpoint is saved: it is now the current model for the Sampling, Attention and Spam "
                "classifier pages, and you can resume it above.")
    why = "pinned" if saved.pinned() == current.run_id else "the newest finished run"
    return (f"The checkpoint is saved; run {current.run_id} stays the current model ({why}). Choose or pin "
            "this run in a page's model chooser, or resume it above.")


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
    current = saved.current()
    if current is None:
        st.caption("No run yet: start one above, and its loss curves appear here live.")
        return
    st.markdown(f"**Current model: run {current.run_id}** ({run_state(current)})")
    _charts(key, current.history, f"run {current.run_id}", compact, exclude=current.run_id)


# ---------------------------------------------------------------------------------------------
# Charts


def _charts(key: str, history: list[dict[str, Any]], label: str, compact: bool, exclude: str,
            version: Any = None) -> None:
    """The loss and perplexity charts, rebuilt only when `version` (the live run's events) or the
    choices change, with at most `tj.MAX_POINTS` points per series."""
    overlay: list[Checkpoint] = []
    if not compact:
        others = [r for r in saved_runs() if r.run_id != exclude]
        overlay = st.multiselect("Compare with earlier runs", others, format_func=run_label, key=f"{key}_overlay",
                                 placeholder="Choose runs to overlay" if others else "No earlier runs yet")
        x = st.radio("Horizontal axis", ("tokens_seen", "epoch"), horizontal=True, key=f"{key}_x",
                     format_func={"tokens_seen": "Tokens seen", "epoch": "Epochs"}.get)
    else:
        x = "tokens_seen"

    def build() -> tuple[Any, Any] | None:
        rows = tj.thin(run_view.loss_rows(history, label))
        for run in overlay:
            rows += tj.thin(run_view.loss_rows(run.history, f"run {run.run_id}"))
        if not rows:
            return None
        data = pd.DataFrame(rows)
        batches = pd.DataFrame(tj.thin(run_view.batch_rows(history, label)))
        height = 180 if compact else 320
        return loss_chart(data, run_view.epoch_ends(history), x, batches, height=height), perplexity_chart(data, x)

    signature = (version if version is not None else label, tuple(r.run_id for r in overlay), x, compact)
    charts = tj.drawn_once(f"{key}_charts", signature, build)
    if charts is None:
        st.caption("The first evaluation, of the untrained model, appears in a moment.")
        return
    if compact:
        st.altair_chart(charts[0], width="stretch")
    else:
        left, right = st.columns([3, 2])
        left.altair_chart(charts[0], width="stretch")
        right.altair_chart(charts[1], width="stretch")
        _untrained_note(history)
        _samples(history)


def _untrained_note(history: list[dict[str, Any]]) -> None:
    """Day 15's question: how unsure is a model before its first update?"""
    first = next((e for e in history if e.get("type") == "eval" and e.get("step") == 0), None)
    if first is None:
        return
    loss = first["val_loss"]
    st.info(
        f"**Before any update** (step 0) the validation loss is **{loss:.2f}**, a perplexity of "
        f"**{run_view.perplexity(loss):,.0f}**. The book's untrained model scores {BOOK_UNTRAINED_PERPLEXITY:,}, "
        f"and a uniform guess among all {GPT2_VOCAB_SIZE:,} tokens would give ln {GPT2_VOCAB_SIZE:,} = "
        f"{math.log(GPT2_VOCAB_SIZE):.2f}. My note on day 15: an untrained model is about as unsure as if it "
        f"picked from some {BOOK_UNTRAINED_PERPLEXITY:,} of the {GPT2_VOCAB_SIZE:,} tokens.\n\n"
        "A first perplexity above the vocabulary size is no mistake: a random model is *worse* than uniform. "
        "Its logits are not flat, so it is confidently wrong about many next tokens, and cross-entropy "
        "punishes a confident miss more than an even spread.",
        icon=":material/casino:",
    )


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
    """Every saved run, whatever its state: the current model is the pinned one, else the newest finished."""
    saved.saved_runs_view(key, empty="None yet. Each finished or stopped run is saved here; the newest finished "
                                     "one is the current model unless you pin another in a model chooser.")
    current = saved.current()
    if current is not None:
        st.caption(f"The current model is run {current.run_id}. Overlay earlier runs on the chart above.")


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
