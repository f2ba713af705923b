"""Guess the next token: the learner against a model, round by round, with a scoreboard that is kept."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import altair as alt
import pandas as pd
import streamlit as st
import torch

from core.app import game_texts
from core.app.corpora import JOURNAL, VERDICT, corpus_available
from core.app.model_sources import ModelSource
from core.errors import AppError, Unavailable, UserError
from core.gpt.model import GPTModel
from core.gpt.tokenizers import decode
from core.paths import game_scores_file
from core.widgets import next_token_game as game
from core.widgets.run_view import shorten_line_breaks
from ui.corpus_download import offer_download
from ui.models import choose_model, newest_model
from ui.token_labels import token_label

ROUNDS = 10
COMPACT_ROUNDS = 5
CONTEXT_SHOWN = 60  # tokens of context on screen; the model itself sees its whole window
TYPE, PICK = "Type a word", "Pick from 6 candidates"
DEFAULT_PASTE = ("It had always been a question of what came next: the next word, the next page, the next "
                 "chapter of the book that I kept on my desk and read a little of every evening.")
SCORING = ("**Scoring.** Both players are scored by the log-probability they gave the token that really came next, "
           "the number the training loss averages. The model gives every token a probability; you give yours "
           "the confidence you set, and the rest is shared evenly by the other 50,256 tokens. Closer to 0 is "
           "better; perplexity, e to the minus that mean, is how many tokens a player was as unsure as. "
           "A typed word gets a leading space (GPT-2's words carry one) unless the text ends in a space or your "
           "guess starts with punctuation; a guess of several tokens is scored by its first token.")


@dataclass
class Game:
    """One game in progress: which rounds, how far, and the last round's result once revealed."""

    ident: tuple
    seed: int
    positions: list[int]
    round: int = 0
    result: game.RoundResult | None = None  # this round's, once revealed
    guess: game.Guess | None = None
    results: list[game.RoundResult] = field(default_factory=list)  # every round of this game so far


# ---------------------------------------------------------------------------------------------
# Model and text


def model_section(key: str) -> tuple[ModelSource, GPTModel] | None:
    return choose_model(key, "An untrained model guesses about 1 in 50,257: beating it is easy. "
                             "Train one on the Pretraining page, or download GPT-2, for a real opponent.")


@st.cache_data(max_entries=4, show_spinner="Tokenizing the text...")
def _tokenized(text: str) -> game.GameText:
    return game.tokenize_for_game(text)


def text_section(key: str) -> tuple[str, game.GameText] | None:
    """The text to play on, as tokens; None with the reason when it is missing or too short."""
    name = st.radio("Text", tuple(game_texts.TEXTS), format_func=game_texts.TEXTS.get, horizontal=True,
                    key=f"{key}_text")
    pasted = ""
    if name == game_texts.PASTED:
        pasted = st.text_area("Paste a text", DEFAULT_PASTE, key=f"{key}_paste")
    elif name != JOURNAL and not corpus_available(name):
        offer_download(key, name, instead="play on the journal")
        return None
    return _load(name, pasted)


def _load(name: str, pasted: str = "") -> tuple[str, game.GameText] | None:
    try:
        tokens = _tokenized(game_texts.game_text(name, pasted))
    except Unavailable as err:
        st.warning(str(err), icon=":material/cloud_off:")
        return None
    except UserError as err:
        st.info(str(err), icon=":material/edit:")
        return None
    for note in tokens.notes:
        st.caption(note)
    return name, tokens


# ---------------------------------------------------------------------------------------------
# Playing


def _game(key: str, ident: tuple, seed: int, tokens: game.GameText, rounds: int) -> Game:
    """The game for this model, text and seed; a new one when any of them changes."""
    current = st.session_state.get(f"{key}_game")
    if current is None or current.ident != ident:
        current = Game(ident, seed, game.round_positions(len(tokens.ids), seed, rounds))
        st.session_state[f"{key}_game"] = current
    return current


def _next_round(key: str) -> None:
    current = st.session_state[f"{key}_game"]
    current.round, current.result, current.guess = current.round + 1, None, None
    st.session_state[f"{key}_word"] = ""
    st.session_state.pop(f"{key}_pick", None)


def _next_seed(key: str) -> None:
    st.session_state[f"{key}_seed"] = int(st.session_state.get(f"{key}_seed", 1)) + 1


def _probabilities(key: str, model: GPTModel, ids: list[int], position: int, ident: tuple) -> torch.Tensor:
    """The model's distribution at this round, computed once per round rather than on every rerun."""
    stored = st.session_state.get(f"{key}_probs")
    if stored is None or stored[0] != (ident, position):
        stored = ((ident, position), game.model_probabilities(model, ids, position))
        st.session_state[f"{key}_probs"] = stored
    return stored[1]


def play_section(key: str, source: ModelSource, model: GPTModel, text: tuple[str, game.GameText],
                 compact: bool = False) -> None:
    """Rounds of guessing, each revealed with the model's distribution, then a summary of the game."""
    name, tokens = text
    rounds = COMPACT_ROUNDS if compact else ROUNDS
    st.session_state.setdefault(f"{key}_seed", 1)
    if compact:
        seed = int(st.session_state[f"{key}_seed"])
    else:
        seed = int(st.number_input("Seed (the same seed replays the same rounds)", 0, 2**31 - 1, key=f"{key}_seed"))
    ident = (source.label, name, len(tokens.ids), hash(tuple(tokens.ids)), seed, rounds)
    current = _game(key, ident, seed, tokens, rounds)
    if current.round >= len(current.positions):
        _summary(key, current)
        return
    position = current.positions[current.round]
    true_id = tokens.ids[position]
    shown = tokens.ids[max(0, position - CONTEXT_SHOWN):position]
    context = decode(shown)
    st.markdown(f"**Round {current.round + 1} of {len(current.positions)}** · token {position:,} of the text. "
                "What comes next?")
    st.code(("…" if position > CONTEXT_SHOWN else "") + shorten_line_breaks(context) + "▌", language=None,
            wrap_lines=True)
    try:
        probs = _probabilities(key, model, tokens.ids, position, ident)
    except UserError as err:
        st.error(str(err), icon=":material/error:")
        return
    if current.result is None:
        _ask(key, current, source, name, probs, true_id, context, compact)
    else:
        _reveal(key, current, probs)


def _ask(key: str, current: Game, source: ModelSource, name: str, probs: torch.Tensor, true_id: int,
         context: str, compact: bool) -> None:
    mode = PICK if compact else st.radio("How to guess", (TYPE, PICK), horizontal=True, key=f"{key}_mode")
    if mode == TYPE:
        word = st.text_input("Your guess for the next word", key=f"{key}_word", max_chars=100)
    else:
        options = game.candidates(probs, true_id, seed=current.seed * 1_000 + current.round)
        picked = st.radio("Which token comes next?", options, format_func=lambda t: f"'{token_label(t)}'",
                          index=None, horizontal=True, key=f"{key}_pick")
    confidence = st.slider("How sure are you?", 1, 99, 50, format="%d%%", key=f"{key}_confidence")
    if not st.button("Guess", type="primary", key=f"{key}_guess", icon=":material/how_to_reg:"):
        return
    try:
        if mode == TYPE:
            guess = game.guess_from_word(word, context)
        elif picked is None:
            raise UserError("pick one of the tokens first")
        else:
            guess = game.Guess(token_label(picked), [picked])
    except UserError as err:
        st.warning(str(err).capitalize() + ".", icon=":material/edit:")
        return
    current.guess = guess
    current.result = game.score_round(probs, true_id, guess.token, confidence / 100, source=source.label, text=name,
                                      seed=current.seed, position=current.positions[current.round])
    current.results.append(current.result)
    _record(key, current.result)
    st.rerun()


def _reveal(key: str, current: Game, probs: torch.Tensor) -> None:
    result, guess = current.result, current.guess
    truth = token_label(result.true_id)
    if result.human_correct:
        st.success(f"Right: the next token was **'{truth}'**.", icon=":material/celebration:")
    else:
        st.info(f"The next token was **'{truth}'**; you guessed '{token_label(result.guess_id)}'.",
                icon=":material/lightbulb:")
    if len(guess.ids) > 1:
        st.caption(f"Your guess {guess.text!r} is {len(guess.ids)} GPT-2 tokens "
                   f"({' · '.join(token_label(t) for t in guess.ids)}); it was scored by its first.")
    cols = st.columns(4)
    cols[0].metric("Model's rank for your guess", f"{result.guess_rank:,}", help="1 = the model's own favourite")
    cols[1].metric("Model's probability for your guess", _percent(result.guess_prob))
    cols[2].metric("Your log-probability", f"{result.human_logprob:.2f}")
    cols[3].metric("Model's log-probability", f"{result.model_logprob:.2f}")
    lead = result.model_logprob - result.human_logprob
    st.caption(f"This round the model scored {abs(lead):.2f} {'more' if lead > 0 else 'less'} than you "
               "(log-probabilities: closer to 0 is better).")
    st.altair_chart(_distribution_chart(probs, result), width="content")
    st.button("Next round", type="primary", key=f"{key}_next", icon=":material/skip_next:",
              on_click=_next_round, args=(key,))


def _distribution_chart(probs: torch.Tensor, result: game.RoundResult, top_n: int = 10) -> alt.Chart:
    """The model's favourites, plus the true token and the guess wherever they rank."""
    top = torch.topk(probs, top_n).indices.tolist()
    shown = list(dict.fromkeys(top + [result.true_id, result.guess_id]))
    rank = {t: int((probs > probs[t]).sum()) + 1 for t in shown}
    role = {t: "the true token" if t == result.true_id else "your guess" if t == result.guess_id else "other"
            for t in shown}
    data = pd.DataFrame([{"token": f"#{rank[t]:,} '{token_label(t)}'", "probability": float(probs[t]),
                          "role": role[t]} for t in sorted(shown, key=rank.get)])
    return alt.Chart(data, title="The model's next-token distribution").mark_bar().encode(
        x=alt.X("probability:Q", axis=alt.Axis(format="~%")),
        y=alt.Y("token:N", sort=None, title=None, axis=alt.Axis(labelLimit=200, labelOverlap=False)),
        color=alt.Color("role:N", scale=alt.Scale(domain=["the true token", "your guess", "other"],
                                                  range=["#2ca02c", "#ff7f0e", "#4c78a8"]), title=None),
        tooltip=["token", alt.Tooltip("probability:Q", format=".3%")],
    ).properties(width=420, height=22 * len(shown))


def _summary(key: str, current: Game) -> None:
    done = current.results
    st.success(f"Game over: you got {sum(r.human_correct for r in done)} of {len(done)} right; the model's "
               f"favourite was right {sum(r.model_correct for r in done)} times.", icon=":material/flag:")
    st.button("Play again with the next seed", type="primary", key=f"{key}_again", icon=":material/replay:",
              on_click=_next_seed, args=(key,))


def _percent(p: float) -> str:
    return f"{p:.1%}" if p >= 0.001 or p == 0 else f"{p * 100:.1g}%"


# ---------------------------------------------------------------------------------------------
# Scores


def _results(key: str) -> list[game.RoundResult]:
    """Saved rounds plus any this session could not save; a damaged file's message is kept for the page."""
    loaded = game.load_scores(game_scores_file())
    if loaded.message:
        st.session_state[f"{key}_scores_message"] = loaded.message
    return loaded.results + st.session_state.get(f"{key}_unsaved", [])


def _record(key: str, result: game.RoundResult) -> None:
    try:
        game.save_scores(game_scores_file(), game.load_scores(game_scores_file()).results + [result])
    except AppError as err:
        st.session_state[f"{key}_scores_message"] = str(err)
        st.session_state.setdefault(f"{key}_unsaved", []).append(result)


def scoreboard_section(key: str, compact: bool = False) -> None:
    """You against each model: top-1 accuracy, mean log-probability and perplexity over every saved round."""
    board = game.scoreboard(_results(key))
    message = st.session_state.get(f"{key}_scores_message")
    if message:
        st.warning(message, icon=":material/warning:")
    if not board:
        st.caption("No rounds played yet: the scoreboard fills in as you play.")
        return
    if compact:
        for source, t in board.items():
            st.caption(f"Against {source}: you {t.human_top1:.0%} right, the model {t.model_top1:.0%} "
                       f"over {t.rounds} rounds; perplexity {_ppl(t.human_perplexity)} against "
                       f"{_ppl(t.model_perplexity)}.")
        return
    st.dataframe(pd.DataFrame([{
        "model": source, "rounds": t.rounds, "your top-1": t.human_top1, "model's top-1": t.model_top1,
        "your mean log-prob": t.human_mean_logprob, "model's mean log-prob": t.model_mean_logprob,
        "your perplexity": t.human_perplexity, "model's perplexity": t.model_perplexity,
    } for source, t in board.items()]), hide_index=True, width="stretch", column_config={
        "your top-1": st.column_config.NumberColumn(format="percent"),
        "model's top-1": st.column_config.NumberColumn(format="percent"),
        "your mean log-prob": st.column_config.NumberColumn(format="%.2f"),
        "model's mean log-prob": st.column_config.NumberColumn(format="%.2f"),
        "your perplexity": st.column_config.NumberColumn(format="%.1f"),
        "model's perplexity": st.column_config.NumberColumn(format="%.1f"),
    })
    st.caption(f"The last {game.MAX_HISTORY} rounds are kept in {game_scores_file()}.")


def _ppl(value: float) -> str:
    return f"{value:,.1f}" if math.isfinite(value) else "∞"


# ---------------------------------------------------------------------------------------------
# Compact version for journal entries


def compact(key: str) -> None:
    """Five multiple-choice rounds on "The Verdict" (or the journal) against the newest model."""
    chosen = newest_model()
    if chosen is None:
        return
    source, model = chosen
    st.caption(f"Against {source.label}.")
    text = _load(VERDICT if corpus_available(VERDICT) else JOURNAL)
    if text is not None:
        play_section(key, source, model, text, compact=True)
        scoreboard_section(key, compact=True)
