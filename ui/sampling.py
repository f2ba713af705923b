"""Sampling sandbox (book section 5.3): how a GPT's next-token scores become text.

Pick a model and a prompt, then watch one distribution go through top-k, temperature and top-p;
add tokens one click at a time, or generate many at once with the KV cache.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import altair as alt
import pandas as pd
import streamlit as st
import torch

from core.app.model_sources import ModelSource
from core.errors import UserError
from core.gpt.config import GPT2_VOCAB_SIZE
from core.gpt.generate import PRECISIONS, Stages, generate, next_token_distribution
from core.gpt.model import GPTModel
from core.gpt.tokenizers import (
    TokenizerUnavailable,
    check_text_length,
    decode,
    encode,
    gpt2_tokenizer,
)
from core.text import plural
from core.widgets import sampling_view as sv
from core.widgets.run_view import shorten_line_breaks
from core.widgets.token_view import bytes_label
from ui import experiments as xp
from ui.long_text import within_limit
from ui.models import choose_model, newest_model
from ui.widget_state import starting_state

MAX_PROMPT_CHARS = 5_000
DEFAULT_PROMPT = "Every effort moves you"
STRATEGY_DEFAULTS = {"greedy": False, "temperature": 1.0, "top_k": 0, "top_p": 1.0}
# The journal's day-20 notes: strict, predictable output keeps top-k under 10 and the temperature under 1;
# creative output uses top-k between 20 and 40 and a temperature above 1. One preset of each, a click away.
PRESETS = {
    "greedy": sv.Strategy(),
    "strict": sv.Strategy(temperature=0.5, top_k=5),
    "creative": sv.Strategy(temperature=1.5, top_k=30),
}
PRESET_LABELS = {"strict": "Strict: top-k 5, temperature 0.5", "creative": "Creative: top-k 30, temperature 1.5",
                 "greedy": "Greedy: always the top token"}


def style(strategy: sv.Strategy) -> str:
    """"strict" or "creative" as the day-20 notes define them, else "greedy" or "in between"."""
    if strategy.greedy:
        return "greedy"
    if strategy.top_k is not None and strategy.top_k < 10 and strategy.temperature < 1:
        return "strict"
    if strategy.top_k is not None and 20 <= strategy.top_k <= 40 and strategy.temperature > 1:
        return "creative"
    return "in between"


@dataclass(frozen=True)
class Prompt:
    text: str
    ids: list[int]


# ---------------------------------------------------------------------------------------------
# Model and prompt


def model_section(key: str) -> tuple[ModelSource, GPTModel] | None:
    """Your checkpoint, GPT-2 (downloaded on request) or random weights."""
    return choose_model(key, f"Its next-token guesses are noise, about 1 in {GPT2_VOCAB_SIZE:,} for every "
                             "token. Train a model on the Pretraining page to see what learning changes.")


def prompt_section(key: str, model: GPTModel, compact: bool = False) -> Prompt | None:
    """The prompt as GPT-2 tokens; None (with the reason) when it is empty or unusable."""
    field = st.text_input if compact else st.text_area
    text = within_limit(field("Prompt", DEFAULT_PROMPT, key=f"{key}_prompt"), MAX_PROMPT_CHARS)
    if not text.strip():
        st.info("Type a prompt: the model continues whatever text you give it.", icon=":material/edit:")
        return None
    try:
        ids = encode(check_text_length(text, MAX_PROMPT_CHARS), allow_special=True)
    except UserError as err:
        st.error(str(err), icon=":material/error:")
        return None
    except TokenizerUnavailable as err:
        st.error(str(err), icon=":material/cloud_off:")
        return None
    window = model.cfg["context_length"]
    if len(ids) > window:
        st.warning(f"The prompt has {len(ids):,} tokens but this model's context window holds {window:,}: "
                   f"it only sees the last {window:,}, so the first {len(ids) - window:,} are cut off.",
                   icon=":material/content_cut:")
    elif not compact:
        st.caption(f"{plural(len(ids), 'token')} of the model's {window:,}-token context window.")
    return Prompt(text, ids)


# ---------------------------------------------------------------------------------------------
# Strategy


def _apply_preset(key: str, name: str) -> None:
    preset = PRESETS[name]
    st.session_state[f"{key}_greedy"] = preset.greedy
    if not preset.greedy:
        st.session_state[f"{key}_temperature"] = preset.temperature
        st.session_state[f"{key}_top_k"] = preset.top_k or 0
        st.session_state[f"{key}_top_p"] = preset.top_p or 1.0


def strategy_section(key: str) -> sv.Strategy:
    """Greedy, or sampling with temperature, top-k and top-p; the day-20 presets one click away."""
    for name, default in STRATEGY_DEFAULTS.items():  # set here, not as widget values: the presets change them
        st.session_state.setdefault(f"{key}_{name}", default)
    cols = st.columns(3)
    for col, name in zip(cols, ("strict", "creative", "greedy"), strict=False):
        col.button(PRESET_LABELS[name], key=f"{key}_preset_{name}", on_click=_apply_preset, args=(key, name),
                   width="stretch")
    greedy = st.toggle("Greedy (always take the most likely token)", key=f"{key}_greedy")
    cols = st.columns(4)
    temperature = cols[0].slider("Temperature", 0.05, 5.0, step=0.05, key=f"{key}_temperature",
                                 disabled=greedy, help="Divides the scores: below 1 sharpens, above 1 flattens.")
    top_k = cols[1].number_input("Top-k (0 = off)", 0, GPT2_VOCAB_SIZE, key=f"{key}_top_k", disabled=greedy,
                                 help="Keep only the k highest scores.")
    top_p = cols[2].slider("Top-p (1 = off)", 0.01, 1.0, step=0.01, key=f"{key}_top_p", disabled=greedy,
                           help="Keep the smallest set of tokens whose probability adds up to p.")
    cols[3].number_input("Seed", 0, 2**31 - 1, 123, key=f"{key}_seed", disabled=greedy,
                         help="The same seed and settings draw the same tokens again.")
    strategy = sv.Strategy() if greedy else sv.Strategy(float(temperature), int(top_k) or None,
                                                         None if top_p >= 1.0 else float(top_p))
    _explain(strategy)
    return strategy


def _explain(strategy: sv.Strategy) -> None:
    """What these settings do, with a word about extreme values."""
    if strategy.greedy:
        st.caption("Greedy: the same prompt always gives the same text, and it tends to repeat itself.")
        return
    notes = {"strict": "Strict settings (top-k below 10, temperature below 1): focused, predictable text.",
             "creative": "Creative settings (top-k 20-40, temperature above 1): more surprising, less coherent.",
             "in between": "Neither strict (top-k < 10, temperature < 1) nor creative (top-k 20-40, temperature > 1)."}
    st.caption(notes[style(strategy)])
    if strategy.temperature >= 3:
        st.warning(f"Temperature {strategy.temperature:g} flattens the distribution until every kept token is "
                   "almost equally likely: expect noise. Add a top-k to limit the damage.", icon=":material/whatshot:")
    elif strategy.temperature <= 0.1:
        st.info(f"Temperature {strategy.temperature:g} makes the top token nearly certain: almost greedy.",
                icon=":material/ac_unit:")
    if strategy.top_k == 1 or (strategy.top_p is not None and strategy.top_p <= 0.05):
        st.info("These settings keep only the single most likely token: sampling becomes greedy.",
                icon=":material/filter_1:")


def seed(key: str) -> int:
    return int(st.session_state.get(f"{key}_seed", 123))


# ---------------------------------------------------------------------------------------------
# One token at a time


def _token_label(token: int) -> str:
    return bytes_label(gpt2_tokenizer().decode_single_token_bytes(token))


def _picks(key: str, prompt: Prompt) -> list[sv.Pick]:
    """The tokens added so far to this prompt (a new prompt starts over)."""
    state = st.session_state.setdefault(f"{key}_steps", {"prompt": None, "picks": []})
    if state["prompt"] != prompt.ids:
        state["prompt"], state["picks"] = prompt.ids, []
    return state["picks"]


def _next_token(key: str, model: GPTModel, ids: list[int], strategy: sv.Strategy) -> None:
    picks = st.session_state[f"{key}_steps"]["picks"]
    try:
        _, pick = sv.pick_next(model, ids, strategy, seed(key), len(picks))
    except UserError as err:
        st.session_state[f"{key}_step_error"] = str(err)
        return
    picks.append(pick)


def _reset(key: str) -> None:
    st.session_state[f"{key}_steps"]["picks"] = []


def steps_section(key: str, model: GPTModel, prompt: Prompt, strategy: sv.Strategy) -> None:
    """The next-token distribution at every stage, and a button that adds the token drawn from it."""
    picks = _picks(key, prompt)
    ids = prompt.ids + [p.id for p in picks]
    try:
        stages = next_token_distribution(model, ids, strategy.temperature, strategy.top_k, strategy.top_p)
    except UserError as err:
        st.error(str(err), icon=":material/error:")
        return
    cols = st.columns([1, 1, 2])
    cols[0].button("Next token", type="primary", key=f"{key}_next", icon=":material/skip_next:",
                   on_click=_next_token, args=(key, model, ids, strategy))
    cols[1].button("Start over", key=f"{key}_reset", icon=":material/restart_alt:", disabled=not picks,
                   on_click=_reset, args=(key,))
    top_n = cols[2].slider("Tokens in the charts", 5, 30, 12, key=f"{key}_top_n")
    log = cols[2].toggle("Log scale (shows tiny probabilities)", key=f"{key}_log",
                         help="An untrained model spreads its probability thinly: about 0.002% per token.")
    error = st.session_state.pop(f"{key}_step_error", None)
    if error:
        st.error(error, icon=":material/error:")
    if picks:
        last = picks[-1]
        st.markdown(f"Picked **{_token_label(last.id)}** (token {last.id}) with probability "
                    f"**{percent(last.probability)}**; the raw model gave it {percent(last.raw_probability)}, "
                    f"its rank {last.rank:,}.")
        _text_so_far(prompt, picks)
    for column, chart in zip(st.columns(len(sv.STAGES)), stage_charts(stages, top_n, log), strict=True):
        column.altair_chart(chart, width="stretch")  # columns stack on a phone-width screen
    kept = sv.kept_tokens(stages)
    st.caption(f"The next token is drawn from {plural(kept, 'token')} "
               f"({'greedy: the top one' if stages.greedy else 'the last chart'}). Bars show each stage's "
               "probabilities for the raw model's favourites; the grey bar is the mass of all other tokens.")
    if picks:
        with st.expander(f"All {plural(len(picks), 'pick')}"):
            st.dataframe(pd.DataFrame([{"token": _token_label(p.id), "id": p.id, "probability": p.probability,
                                        "raw probability": p.raw_probability, "rank": p.rank} for p in picks]),
                         hide_index=True, width="stretch",
                         column_config={c: st.column_config.NumberColumn(format="percent")
                                        for c in ("probability", "raw probability")})


def percent(p: float) -> str:
    """A probability as a percentage that stays readable when tiny: 12.5%, 0.002%."""
    return f"{p:.1%}" if p >= 0.001 or p == 0 else f"{p * 100:.1g}%"


def _text_so_far(prompt: Prompt, picks: list[sv.Pick]) -> None:
    added = decode([p.id for p in picks])
    st.code(shorten_line_breaks(prompt.text + added), language=None, wrap_lines=True)


def stage_charts(stages: Stages, top_n: int, log: bool = False) -> list[alt.Chart]:
    """Four small bar charts, one per stage: raw, after top-k, after temperature, after top-p."""
    rows = sv.stage_rows(stages, _token_label, top_n)
    data = pd.DataFrame(rows)
    order = data.drop_duplicates("rank").sort_values("rank")["token"].tolist()
    scale = alt.Scale(type="log", domain=[1e-6, 1], clamp=True) if log else alt.Scale(domain=[0, 1])
    if log:  # a removed token (probability 0) has no bar on a log scale
        data = data[data["probability"] > 0]
    bars = alt.Chart(data).mark_bar().encode(
        x=alt.X("probability:Q", title="probability", scale=scale,
                axis=alt.Axis(format="~e", values=[1e-6, 1e-4, 1e-2, 1]) if log else alt.Axis(format="~%")),
        y=alt.Y("token:N", sort=order, title=None, axis=alt.Axis(labelOverlap=False, labelLimit=110)),
        color=alt.condition(alt.datum.token == sv.OTHERS, alt.value("#bbbbbb"), alt.value("#4c78a8")),
        tooltip=["token", "id", alt.Tooltip("probability:Q", format=".2%")],
    ).properties(height=24 * (top_n + 1))
    return [bars.transform_filter(alt.datum.stage == stage).properties(title=stage) for stage in sv.STAGES]


# ---------------------------------------------------------------------------------------------
# Many tokens at once


def generate_section(key: str, model: GPTModel, prompt: Prompt, strategy: sv.Strategy, compact: bool = False) -> None:
    """Generate N tokens in one go, with or without the KV cache."""
    cols = st.columns([1, 1, 1, 2])
    count = cols[0].number_input("Tokens to generate", 1, 500, 30 if compact else 50, key=f"{key}_count")
    use_cache = cols[1].toggle("KV cache", value=True, key=f"{key}_cache",
                               help="Keep every past token's keys and values, so each step feeds one new token.")
    precision = cols[2].selectbox("Weights", PRECISIONS, key=f"{key}_precision",
                                  help="fp32 is exact. bf16 (half the bytes) and int8 (a quarter) generate faster "
                                  "from rounded copies of the weights, so the text can part from fp32's.")
    shown = f"{key}_generated"  # the last result stays while the model and prompt stay the same
    made_for = (id(model), tuple(prompt.ids))
    if cols[3].button(f"Generate {plural(int(count), 'token')}", type="primary", key=f"{key}_generate",
                      icon=":material/auto_awesome:"):
        started = time.perf_counter()
        try:
            with st.spinner("Generating..."):
                out = generate(model, torch.tensor([prompt.ids]), int(count), temperature=strategy.temperature,
                               top_k=strategy.top_k, top_p=strategy.top_p, use_cache=use_cache, seed=seed(key),
                               precision=precision)
        except UserError as err:
            st.error(str(err), icon=":material/error:")
            return
        seconds = time.perf_counter() - started
        new = out[0, len(prompt.ids):].tolist()
        st.session_state[f"{key}_record"] = xp.generation(key, prompt.text, strategy, int(count), use_cache, seed(key),
                                                          prompt.text + decode(new))
        st.session_state[shown] = (made_for, prompt.text + decode(new), (
            f"{plural(len(new), 'new token')} in {seconds:.2f} s ({len(new) / seconds:,.0f} tokens/s, "
            f"{'with' if use_cache else 'without'} the KV cache, {precision} weights), {_describe(strategy)}."))
    result = st.session_state.get(shown)
    if result is not None and result[0] == made_for:
        st.code(shorten_line_breaks(result[1]), language=None, wrap_lines=True)
        st.caption(result[2])
        xp.add_to_entry(key, st.session_state.get(f"{key}_record"))


def _describe(strategy: sv.Strategy) -> str:
    if strategy.greedy:
        return "greedy"
    parts = [f"temperature {strategy.temperature:g}"]
    if strategy.top_k:
        parts.append(f"top-k {strategy.top_k}")
    if strategy.top_p:
        parts.append(f"top-p {strategy.top_p:g}")
    return ", ".join(parts)


# ---------------------------------------------------------------------------------------------
# Compact version for journal entries


def compact(key: str, state: dict | None = None) -> None:
    """Prompt, strict or creative (`style` opens it on one), generate: with the newest model on this machine."""
    start = starting_state("sampling", state, {"style": "strict"})
    chosen = newest_model()
    if chosen is None:
        return
    source, model = chosen
    st.caption(f"Model: {source.label}.")
    prompt = prompt_section(key, model, compact=True)
    styles = tuple(PRESET_LABELS)
    name = st.radio("Settings", styles, format_func=PRESET_LABELS.get, horizontal=True, key=f"{key}_style",
                    index=styles.index(start["style"]) if start["style"] in styles else 0)
    if prompt is not None:
        generate_section(key, model, prompt, PRESETS[name], compact=True)
