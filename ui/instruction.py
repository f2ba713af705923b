"""Instruction fine-tuning (book chapter 7): the data, the loss-mask inspector, fine-tuning live,
the test-set responses, judging them, and trying the model.

Fine-tuning runs as `core.gpt.instruct.instruct_run` in the server's one training slot
(`ui.training_job`); the page only draws what the job records.
"""

from __future__ import annotations

import html
from dataclasses import replace
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from core.app import judge
from core.app.estimates import estimate_training, format_duration, measured_flops
from core.app.model_sources import ModelSource, cached_gpt2_weights, model_sources
from core.errors import AppError, Unavailable, UserError
from core.gpt import instruct
from core.gpt import instruction_data as idata
from core.gpt.checkpoint import Checkpoint, load_model, read_checkpoint
from core.gpt.config import GPT2_VOCAB_SIZE
from core.gpt.instruction_data import Example, encode_example, format_input, make_record, split_records
from core.gpt.weights import WeightsUnavailable, download_gpt2, gpt2_config, load_hf_gpt2_file
from core.text import plural
from core.widgets import loss_mask_view as lmv
from core.widgets import run_view
from core.widgets.sampling_view import Strategy
from ui import training_job as tj
from ui.charts import loss_chart
from ui.models import cached_model

REFRESH_S = 2.0
SCRATCH = "scratch"
GPT2_SIZES = {"gpt2-small": "GPT-2 small (124 M)", "gpt2-medium": "GPT-2 medium (355 M)"}
LEARNING_RATES = (1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 2e-3, 5e-3)
MAX_UPLOAD_MB = 20
# Greedy is how the book writes the test-set responses; a little sampling shows other answers the model holds likely.
PRESETS = {"greedy": Strategy(), "varied": Strategy(temperature=0.7, top_k=40)}
FORMAT_NOT_FACTS = ("A model without pretraining learns the format (the `### Response:` header, answers of "
                    "the right length and shape, the end-of-text token), not the facts: expect fluent-looking "
                    "but mostly wrong answers. The book starts from pretrained GPT-2.")


# ---------------------------------------------------------------------------------------------
# 1. The data


@st.cache_data(max_entries=2, show_spinner="Reading the instruction data...")
def _book_records(path: str, mtime: float) -> list[dict[str, str]]:
    return idata.read_records(path)


def data_section(key: str) -> list[dict[str, str]] | None:
    """The book's 1,100 records (or the learner's own JSON file), their split and a few to browse."""
    source = st.radio("Data", ("book", "upload"), horizontal=True, key=f"{key}_data_source",
                      format_func={"book": "The book's instruction data", "upload": "Your own JSON file"}.get)
    try:
        records = _uploaded_records(key) if source == "upload" else _book_data(key)
    except AppError as err:
        st.error(str(err), icon=":material/error:")
        return None
    if records is None:
        return None
    splits = split_records(records)
    with_input = sum(1 for r in records if r["input"])
    st.caption(f"{len(records):,} records, {with_input:,} with an input. Split in file order as in the book: "
               f"{len(splits.train):,} training, {len(splits.val):,} validation, {len(splits.test):,} test "
               "(85 / 5 / 10 %).")
    with st.expander("Browse the records and the prompt the model sees"):
        index = st.number_input("Record", 0, len(records) - 1, 0, key=f"{key}_browse")
        entry = records[int(index)]
        st.code(format_input(entry) + idata.format_response(entry), language=None, wrap_lines=True)
    return records


def _book_data(key: str) -> list[dict[str, str]] | None:
    path = idata.find_data_file(idata.DATA_FILE)
    if path is not None:
        return _book_records(str(path), path.stat().st_mtime)
    st.warning(f"The book's instruction data is not on this machine. {idata.how_to_get_data()} "
               "Saved runs and their responses still work below without it.", icon=":material/dataset:")
    if st.button("Download the instruction data (0.2 MB)", key=f"{key}_download_data"):
        with st.spinner("Downloading..."):
            idata.download_records()
        st.rerun()
    return None


def _uploaded_records(key: str) -> list[dict[str, str]] | None:
    upload = st.file_uploader("A JSON list of records with `instruction`, `input` and `output` text",
                              type=["json"], max_upload_size=MAX_UPLOAD_MB, key=f"{key}_upload")
    if upload is None:
        return None
    return idata.parse_records(upload.getvalue(), upload.name)


# ---------------------------------------------------------------------------------------------
# 2. The loss-mask inspector


def _example_or_none(entry: dict[str, str]) -> Example | None:
    try:
        return encode_example(entry)
    except AppError as err:
        st.error(str(err), icon=":material/error:")
        return None


def typed_record(key: str, with_output: bool = True) -> dict[str, str] | None:
    """An instruction, an optional input and (for the inspector) an answer, typed by the learner."""
    instruction = st.text_area("Instruction", key=f"{key}_instruction", height=80,
                               placeholder="e.g. Rewrite the sentence in passive voice.")
    given = st.text_area("Input (optional)", key=f"{key}_input", height=68,
                         placeholder="e.g. The cat chased the mouse.")
    output = st.text_area("Response", key=f"{key}_output", height=68) if with_output else ""
    try:
        return make_record(instruction, given, output)
    except idata.InstructionDataError:
        st.caption("Type an instruction to see its tokens.")
    except UserError as err:
        st.error(str(err), icon=":material/error:")
    return None


def mask_section(key: str, records: list[dict[str, str]] | None, models: dict[str, ModelSource]) -> None:
    """Every token of one record or a batch coloured by its role, and what the loss sees."""
    left, right = st.columns([2, 1])
    what = left.radio("Inspect", ("record", "batch", "typed"), horizontal=True, key=f"{key}_mask_what",
                      format_func={"record": "One record", "batch": "A batch", "typed": "Your own record"}.get)
    masked = right.toggle("Mask the instruction (exercise 7.2)", key=f"{key}_mask_instruction",
                          help="Also set the prompt's targets to -100, so the loss sees only the response.")
    if what == "typed" or records is None:
        chosen = [entry] if (entry := typed_record(f"{key}_typed")) is not None else []
    elif what == "record":
        index = st.number_input("Record", 0, len(records) - 1, min(1, len(records) - 1), key=f"{key}_mask_record")
        chosen = [records[int(index)]]
    else:
        cols = st.columns(2)
        size = cols[0].slider("Batch size", 2, 8, 8, key=f"{key}_mask_batch")
        first = int(cols[1].number_input("First record", 0, max(0, len(records) - size), 0, key=f"{key}_mask_first"))
        chosen = records[first : first + size]
    try:
        examples = [encode_example(entry) for entry in chosen]
    except AppError as err:
        st.error(str(err), icon=":material/error:")
        return
    if not examples:
        return
    batch = lmv.mask_batch(examples, masked)
    draw_batch(batch)
    if len(examples) > 1:
        st.altair_chart(padding_chart(batch), width="stretch")
    if models:
        _mask_losses(key, examples, models)


def legend() -> str:
    return " ".join(_chip(role, role, True, role) for role in lmv.ROLES)


def _chip(label: str, role: str, counted: bool, title: str) -> str:
    style = (f"background:{lmv.ROLE_COLOURS[role]};color:white;border-radius:3px;padding:0 3px;margin:1px;"
             "display:inline-block;font-family:monospace;font-size:0.8em;white-space:pre")
    if not counted:
        style += ";opacity:0.55;text-decoration:line-through"
    return f'<span title="{html.escape(title)}" style="{style}">{html.escape(label)}</span>'


def draw_batch(batch: lmv.MaskedBatch) -> None:
    """Inputs and targets of every row as coloured chips; crossed-out targets are ignored (-100)."""
    rows = lmv.token_rows(batch)
    total = batch.targets.numel()
    st.markdown(f"**The loss sees {batch.counted:,} of {total:,} target tokens** "
                f"({len(batch.examples)} row{'s' * (len(batch.examples) > 1)} × {batch.inputs.shape[1]} positions).")
    st.markdown(legend(), unsafe_allow_html=True)
    for row in range(len(batch.examples)):
        cells = [r for r in rows if r["row"] == row]
        inputs = "".join(_chip(c["input"], c["input_role"], True, f"input id {c['input_id']}") for c in cells)
        targets = "".join(_chip(c["target"], c["target_role"], c["counted"], f"target id {c['target_id']}")
                          for c in cells)
        st.markdown(f"<div><b>row {row} inputs</b> {inputs}</div><div><b>row {row} targets</b> "
                    f"({batch.counted_in_row(row)} counted) {targets}</div>", unsafe_allow_html=True)


def padding_chart(batch: lmv.MaskedBatch) -> alt.Chart:
    """Real tokens and padding per row: every row is padded to the longest one plus its end-of-text."""
    data = pd.DataFrame([{"row": f"row {r['row']}", "part": part, "tokens": r[column]}
                         for r in lmv.padding_rows(batch)
                         for part, column in (("real tokens", "tokens"), ("padding", "padding"))])
    return alt.Chart(data).mark_bar().encode(
        x=alt.X("tokens:Q", title="positions"), y=alt.Y("row:N", title=None),
        color=alt.Color("part:N", scale=alt.Scale(domain=["real tokens", "padding"],
                                                  range=["#4c78a8", lmv.ROLE_COLOURS[lmv.PADDING]])),
        tooltip=["row", "part", "tokens"],
    ).properties(height=30 * len(batch.examples) + 40,
                 title="Padding grows with the longest record in the batch")


def _mask_losses(key: str, examples: list[Example], models: dict[str, ModelSource]) -> None:
    label = st.selectbox("Model for the losses", list(models), key=f"{key}_mask_model")
    try:
        losses = _losses(models[label], tuple(examples))
    except AppError as err:
        st.error(str(err), icon=":material/error:")
        return
    cols = st.columns(3)
    cols[0].metric("No mask (padding scored too)", f"{losses.no_mask:.3f}", help=f"{losses.no_mask_tokens:,} targets")
    cols[1].metric("Padding mask (the book's)", f"{losses.padding_mask:.3f}",
                   help=f"{losses.padding_mask_tokens:,} targets")
    cols[2].metric("Padding + instruction mask", f"{losses.instruction_mask:.3f}",
                   help=f"{losses.instruction_mask_tokens:,} targets")
    padding = losses.no_mask_tokens - losses.padding_mask_tokens
    st.caption((f"Without a mask, {padding:,} padding targets count too: predicting end-of-text after "
                "end-of-text is easy, so they pull the loss toward what padding costs and teach nothing. "
                if padding else "One record has no padding beyond its end-of-text; pick a batch to see padding. ")
               + "The instruction mask leaves only the response (and its end-of-text) for the model to learn.")


# ---------------------------------------------------------------------------------------------
# 3. Fine-tuning


@st.cache_data(max_entries=16, show_spinner="Computing the losses...")
def _losses(source: ModelSource, examples: tuple[Example, ...]) -> lmv.MaskLosses:
    model = cached_model(source)
    return lmv.mask_losses(model, examples, model.cfg["context_length"])


def model_choices() -> dict[str, ModelSource]:
    """Models whose loss the inspector can show: fine-tuned runs, your checkpoint, cached GPT-2, random weights."""
    choices = {}
    for run in instruct.list_instruct_runs()[:3]:
        choices[f"Instruction-tuned run {run.run_id}"] = ModelSource("checkpoint", run.run_id, run.status, run.path)
    for source in model_sources():
        if not source.needs_download:
            choices[source.label] = source
    return choices


def _pretrained_run() -> ModelSource | None:
    """Your current pretraining run, when it scores GPT-2's whole vocabulary (instruction training's loss
    needs every token's own row; a compact run shares one row among most of them)."""
    source = next((s for s in model_sources() if s.kind == "checkpoint"), None)
    if source is None or read_checkpoint(source.path).config["vocab_size"] < GPT2_VOCAB_SIZE:
        return None
    return source


def _bases() -> dict[str, str]:
    options = {SCRATCH: "From scratch: a small GPT (2 blocks) with GPT-2's vocabulary (works offline)"}
    checkpoint = _pretrained_run()
    if checkpoint is not None:
        options["checkpoint"] = checkpoint.label
    for size, title in GPT2_SIZES.items():
        cached = cached_gpt2_weights(size) is not None
        options[size] = f"OpenAI's {title}, pretrained" + ("" if cached else " (download needed)")
    return options


def _base_config(base: str) -> dict[str, Any]:
    if base == SCRATCH:
        return {"vocab_size": 50257, **instruct.SCRATCH_RECIPE.model}
    if base == "checkpoint":
        return read_checkpoint(_pretrained_run().path).config
    return gpt2_config(base)


def _load_base(base: str) -> Any:
    """A fresh copy of the base model (training changes it), in the job's thread."""
    if base == SCRATCH:
        return None
    if base == "checkpoint":
        return load_model(_pretrained_run().path)[0]
    path = cached_gpt2_weights(base)
    if path is None:
        raise Unavailable(f"{GPT2_SIZES[base]} is not downloaded")
    return load_hf_gpt2_file(path, gpt2_config(base))


def finetune_section(key: str, records: list[dict[str, str]]) -> None:
    """Base model, the recipe, an estimate from this machine's speed, and the start button."""
    bases = _bases()
    base = st.radio("Start from", list(bases), format_func=bases.get, key=f"{key}_base")
    if base in GPT2_SIZES and cached_gpt2_weights(base) is None:
        st.info(f"{GPT2_SIZES[base]} needs a one-time download from the Hugging Face hub, then stays in the cache.")
        if st.button(f"Download {GPT2_SIZES[base]}", key=f"{key}_download_{base}"):
            try:
                with st.spinner("Downloading..."):
                    download_gpt2(base)
            except WeightsUnavailable as err:
                st.error(str(err), icon=":material/cloud_off:")
                return
            st.rerun()
        return
    if base == SCRATCH:
        st.warning(FORMAT_NOT_FACTS, icon=":material/school:")
    recipe = instruct.SCRATCH_RECIPE if base == SCRATCH else instruct.BOOK_RECIPE
    cols = st.columns(4)
    epochs = cols[0].number_input("Epochs", 1, 50, recipe.settings.epochs, key=f"{key}_epochs_{base}")
    lr = cols[1].select_slider("Learning rate", LEARNING_RATES, value=recipe.settings.lr,
                               format_func=lambda v: f"{v:g}", key=f"{key}_lr_{base}")
    batch_size = cols[2].number_input("Batch size", 1, 32, recipe.batch_size, key=f"{key}_batch_size")
    used = cols[3].number_input("Records used", min(20, len(records)), len(records), len(records), step=10,
                                key=f"{key}_records",
                                help="Fewer records make a quick first run; the split stays 85 / 5 / 10 %.")
    cols = st.columns(4)
    eval_freq = cols[0].number_input("Evaluate every N steps", 1, 1000, recipe.settings.eval_freq,
                                     key=f"{key}_eval_freq")
    new_tokens = cols[1].number_input("Response tokens", 1, 1024, recipe.max_new_tokens, key=f"{key}_new_tokens",
                                      help="The most tokens each test-set response may have (the book: 256).")
    masked = cols[2].toggle("Mask the instruction", key=f"{key}_train_mask", help="Exercise 7.2")
    lora = None
    if instruct.lora_available() and base != SCRATCH and cols[3].toggle("LoRA", key=f"{key}_lora",
                                                                        help="Appendix E: train small adapters"):
        sub = st.columns(2)
        lora = (int(sub[0].number_input("LoRA rank", 1, 256, 16, key=f"{key}_lora_rank")),
                float(sub[1].number_input("LoRA alpha", 1.0, 256.0, 16.0, key=f"{key}_lora_alpha")))
    seed = 123
    try:
        recipe = instruct.InstructRecipe(
            replace(recipe.settings, epochs=int(epochs), lr=float(lr), eval_freq=int(eval_freq)),
            batch_size=int(batch_size), allowed_max_length=recipe.allowed_max_length, mask_instruction=masked,
            lora=lora, model=recipe.model, max_new_tokens=int(new_tokens))
        chosen = records[: int(used)]
        _show_plan(base, chosen, recipe)
    except AppError as err:
        st.error(str(err), icon=":material/error:")
        return
    _book_figures()
    resume = _resume_choice(key)
    tj.refused_note(key)
    clicked = tj.start_button(key, "instruct", "Resume fine-tuning" if resume else "Start fine-tuning")
    tj.watch_slot(key)
    if clicked:
        summary = f"{'resuming ' + resume.run_id if resume else bases[base].split(':')[0]}, {recipe.settings.epochs} " \
                  f"epoch{'s' * (recipe.settings.epochs > 1)}, {len(chosen):,} records"

        def work(stop: Any) -> Any:
            yield from instruct.instruct_run(chosen, None if resume else _load_base(base), recipe,
                                             base_name=base, seed=seed, stop=stop,
                                             resume_from=resume.path if resume else None)

        if tj.start_job(key, "instruct", summary, work, uses=[resume.run_id] if resume else []):
            st.rerun()


def _resume_choice(key: str) -> Checkpoint | None:
    stopped = [r for r in instruct.list_instruct_runs() if r.status == "stopped"]
    if not stopped:
        return None
    options = [None, *stopped]
    return st.selectbox("Or resume a stopped run", options, key=f"{key}_resume",
                        format_func=lambda r: "no, start a new run" if r is None else
                        f"{r.run_id} · {r.settings.get('base', '?')} · step {r.progress.get('step', 0)}")


def _show_plan(base: str, records: list[dict[str, str]], recipe: instruct.InstructRecipe) -> None:
    splits = split_records(records)
    if not splits.test or not splits.val:
        raise UserError(f"{len(records)} records are too few to split 85 / 5 / 10 %: use at least 10")
    cfg = _base_config(base)
    lengths = _lengths(tuple((r["instruction"], r["input"], r["output"]) for r in splits.train))
    width = min(idata.typical_width(lengths, recipe.batch_size), cfg["context_length"])
    steps = max(1, len(splits.train) // recipe.batch_size)
    same_base = [r for r in instruct.list_instruct_runs() if r.settings.get("base") == base]
    measured = measured_flops(same_base[0], min_steps=2) if same_base else None  # its own steps, warm-up and all
    # Responses after training: each test record's answer, token by token (with the KV cache).
    answer_tokens = len(splits.test) * recipe.max_new_tokens // recipe.settings.epochs
    s = recipe.settings
    estimate = estimate_training({**cfg, "context_length": max(2, round(width))}, steps, s.epochs, recipe.batch_size,
                                 s.eval_freq, s.eval_iter, sample_tokens=35 + answer_tokens, flops_per_s=measured)
    how = "measured by an earlier run from this base here" if measured else "from a typical CPU's speed"
    st.caption(f"{len(splits.train):,} training records in batches of {recipe.batch_size}, each batch about "
               f"{width:.0f} tokens wide: **{estimate.total_steps:,} steps**, then {len(splits.test):,} test "
               f"responses of up to {recipe.max_new_tokens} tokens. About **{format_duration(estimate.seconds)}** "
               f"on this machine ({how}).")


@st.cache_data(max_entries=4, show_spinner=False)
def _lengths(records: tuple[tuple[str, str, str], ...]) -> list[int]:
    return [len(encode_example({"instruction": i, "input": x, "output": o}).ids) for i, x, o in records]


def _book_figures() -> None:
    before, after = instruct.BOOK_LOSSES_BEFORE, instruct.BOOK_LOSSES_AFTER
    st.caption(f"The book's figures, for comparison: gpt2-medium, 2 epochs, took "
               f"{instruct.BOOK_MINUTES['gpt2-medium']} min on an M3 MacBook Air CPU (gpt2-small "
               f"{instruct.BOOK_MINUTES['gpt2-small']} min); its training / validation loss went from "
               f"{before[0]} / {before[1]} before fine-tuning to about {after[0]} / {after[1]}.")


# ---------------------------------------------------------------------------------------------
# 4. The live run


def live_section(key: str) -> None:
    live = tj.shared_training().latest
    running = live is not None and live.kind == "instruct" and live.job.running
    st.fragment(_live_view, run_every=REFRESH_S if running else None)(key)


def _live_view(key: str) -> None:
    shown = tj.fine_tuning_view(key, "instruct")
    if shown is None:
        return
    live, snapshot, events = shown
    progress = run_view.run_progress(events)
    answers = [e for e in snapshot.events if isinstance(e, instruct.ResponsesEvent)]
    if snapshot.running:
        if answers:
            st.progress(answers[-1].done / answers[-1].total,
                        text=f"Training done; answering the test set: {answers[-1].done} of {answers[-1].total}")
        else:
            tj.progress_bar(progress, tj.stopping(snapshot))
        tj.stop_button(key, live, snapshot)
    elif snapshot.status == "failed":
        st.error(f"Fine-tuning failed: {snapshot.error}", icon=":material/error:")
    else:
        done = next((e for e in events if e["type"] == "done"), None)
        if done is not None:
            verb = "Finished" if done["reason"] == "finished" else "Stopped (resume it above)"
            st.success(f"{verb} after {plural(done['step'], 'step')} ({format_duration(done['elapsed'])}). "
                       "The model is saved; its test-set responses are below.", icon=":material/check_circle:")
    rows = run_view.loss_rows(events, "this run")
    if rows:
        st.altair_chart(loss_chart(pd.DataFrame(rows), run_view.epoch_ends(events), "epoch"),
                        width="stretch")
    samples = run_view.samples(events)
    if samples:
        st.caption(f"Answer to the first validation record after epoch {samples[0]['epoch']}:")
        st.code(samples[0]["text"] or "(nothing: the model wrote end-of-text at once)", language=None,
                wrap_lines=True)


# ---------------------------------------------------------------------------------------------
# 5. Responses and 6. judging them


def choose_run(key: str) -> tuple[Checkpoint, list[dict[str, str]] | None] | None:
    runs = instruct.list_instruct_runs()
    if not runs:
        st.info("No instruction-tuned model yet: fine-tune one above.", icon=":material/model_training:")
        return None
    run = st.selectbox("Run", runs, key=f"{key}_run", format_func=lambda r: (
        f"{r.run_id} · {r.settings.get('base', '?')} · {r.status} after {r.progress.get('step', 0)} steps"))
    try:
        return run, instruct.read_responses(run.path)
    except AppError as err:
        st.error(str(err), icon=":material/error:")
        return run, None


def responses_section(key: str, run: Checkpoint, responses: list[dict[str, str]] | None) -> None:
    """Each test response beside its reference, the overlap proxy, and the learner's own score."""
    if not responses:
        st.caption("This run has no test-set responses (it was stopped before the end); resume it to finish.")
        return
    overlaps = [judge.overlap_score(r["model_response"], r["output"]) for r in responses]
    try:
        saved = judge.read_scores(run.path)
    except UserError as err:
        st.error(str(err), icon=":material/error:")
        saved = {}
    index = int(st.number_input("Test record", 0, len(responses) - 1, 0, key=f"{key}_response_index"))
    entry = responses[index]
    st.markdown(f"**Instruction:** {entry['instruction']}" + (f"  \n**Input:** {entry['input']}" if entry["input"]
                                                            else ""))
    left, right = st.columns(2)
    left.markdown("**Reference answer**")
    left.code(entry["output"], language=None, wrap_lines=True)
    right.markdown("**Model response**")
    right.code(entry["model_response"] or "(empty)", language=None, wrap_lines=True)
    st.caption(f"Word overlap with the reference: {overlaps[index]:.0f} / 100 (a ROUGE-L-like rough proxy: "
               f"same words in the same order, not correctness; not the book's metric). "
               f"Mean over the {len(responses)} test responses: {sum(overlaps) / len(overlaps):.0f}.")
    _learner_score(key, run, index, saved)


def _learner_score(key: str, run: Checkpoint, index: int, saved: dict[str, Any]) -> None:
    sheet = saved.get("learner") or {}
    scale = st.radio("Your score", tuple(judge.SCALES), horizontal=True, key=f"{key}_scale",
                     format_func={"0-100": "0-100 (as the judge)", "1-5": "1-5 rubric"}.get)
    if scale == "1-5":
        score = st.select_slider("Score", list(judge.RUBRIC), value=3, key=f"{key}_score_5",
                                 format_func=lambda s: f"{s}: {judge.RUBRIC[s]}")
    else:
        score = st.slider("Score", 0, 100, 50, key=f"{key}_score_100")
    if st.button("Save my score", key=f"{key}_save_score", icon=":material/save:"):
        try:
            sheet = judge.save_learner_score(run.path, index, int(score), scale)["learner"]
        except AppError as err:
            st.error(str(err), icon=":material/error:")
    scores = list((sheet.get("scores") or {}).values()) if sheet.get("scale") == scale else []
    if scores:
        mean = judge.mean_score(scores)
        st.caption(f"Your scores: {len(scores)} response{'s' * (len(scores) > 1)}, mean {mean:.1f} on {scale} "
                   f"({judge.to_percent(mean, scale):.0f} / 100; the book's judge gives gpt2-medium about "
                   f"{judge.BOOK_MEAN_SCORE}).")


def judge_section(key: str, run: Checkpoint, responses: list[dict[str, str]] | None) -> None:
    """The book's judge: a local Ollama server scoring every test response 0-100."""
    if not responses:
        return
    cols = st.columns(2)
    url = cols[0].text_input("Ollama server", judge.OLLAMA_URL, key=f"{key}_judge_url")
    model = cols[1].text_input("Judge model", judge.DEFAULT_MODEL, key=f"{key}_judge_model")
    try:
        saved = judge.read_scores(run.path).get("judge")
    except UserError:
        saved = None  # the responses section above says the file is damaged
    if isinstance(saved, dict) and isinstance(saved.get("mean"), (int, float)):
        st.metric(f"Judge's mean score ({saved['model']})", f"{saved['mean']:.1f}",
                  help=f"The book: about {judge.BOOK_MEAN_SCORE} for gpt2-medium")
    if not st.button(f"Score {len(responses)} responses with the judge", key=f"{key}_judge_run",
                     icon=":material/gavel:"):
        return
    try:
        name = judge.check_judge(model, url)
        bar = st.progress(0.0, text="Scoring...")
        judged = []
        for item in judge.judge_responses(responses, name, url):
            judged.append(item)
            bar.progress(len(judged) / len(responses), text=f"Scored {len(judged)} of {len(responses)}")
        result = judge.save_judge_scores(run.path, name, judged)["judge"]
    except AppError as err:
        st.info(str(err), icon=":material/gavel:")
        return
    unparsed = sum(1 for j in judged if j.score is None)
    mean = result["mean"]
    st.success(f"Mean score {mean:.1f} / 100 from {name}" + (f" ({unparsed} replies without a number)"
               if unparsed else "") + f". The book's gpt2-medium scores about {judge.BOOK_MEAN_SCORE}.",
               icon=":material/gavel:")


# ---------------------------------------------------------------------------------------------
# 7. Try it


def try_section(key: str, run: Checkpoint) -> None:
    """Type an instruction (and an input) and read the model's response, with sampling settings."""
    entry = typed_record(f"{key}_try", with_output=False)
    cols = st.columns(4)
    preset = cols[0].selectbox("Sampling", list(PRESETS), key=f"{key}_try_preset",
                               help="greedy: always the likeliest token (as the book answers the test set); varied: "
                               "temperature 0.7 and top-k 40, as on the Sampling page")
    strategy = PRESETS[preset]
    temperature = cols[1].slider("Temperature", 0.0, 2.0, float(strategy.temperature), 0.1,
                                 key=f"{key}_try_temperature_{preset}")
    top_k = cols[2].number_input("Top-k (0: off)", 0, 50257, strategy.top_k or 0, key=f"{key}_try_top_k_{preset}")
    tokens = cols[3].number_input("Max new tokens", 1, 512, 100, key=f"{key}_try_tokens")
    if entry is None or not st.button("Respond", type="primary", key=f"{key}_try_button", icon=":material/send:"):
        return
    try:
        model = cached_model(ModelSource("checkpoint", run.run_id, run.status, run.path))
        with st.spinner("Writing..."):
            text = instruct.generate_response(model, entry, int(tokens), float(temperature), int(top_k) or None,
                                              seed=123)
    except AppError as err:
        st.error(str(err), icon=":material/error:")
        return
    st.markdown("**Response**")
    st.code(text or "(nothing: the model wrote end-of-text at once)", language=None, wrap_lines=True)


# ---------------------------------------------------------------------------------------------
# Compact version for journal entries


def compact(key: str) -> None:
    """The mask inspector for one record of the book's data, or a typed one."""
    path = idata.find_data_file(idata.DATA_FILE)
    try:
        records = _book_records(str(path), path.stat().st_mtime) if path is not None else None
    except AppError as err:
        st.warning(str(err), icon=":material/error:")
        records = None
    masked = st.toggle("Mask the instruction (exercise 7.2)", key=f"{key}_mask_instruction")
    if records:
        index = st.number_input("Record", 0, len(records) - 1, min(1, len(records) - 1), key=f"{key}_record")
        example = _example_or_none(records[int(index)])
    else:
        entry = typed_record(key)
        example = None if entry is None else _example_or_none(entry)
    if example is not None:
        draw_batch(lmv.mask_batch([example], masked))
