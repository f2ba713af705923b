"""Guess the next token: a game of the learner against a model, scored by log-probability.

A seed picks the positions in a text, so a game can be replayed. At each position the learner
guesses the next token and says how sure they are; the model gives its whole distribution.
Both are scored by the log-probability they gave the token that really came next, the same
number the training loss averages (section 5.1.2): mean log-probability and perplexity.

The learner's guess is a distribution too: `confidence` on their token, the rest spread evenly
over the other tokens of the vocabulary. A typed word that is several GPT-2 tokens is scored by
its first token (the one that would come next).
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path

import torch

from core.atomic import write_text
from core.errors import Unavailable, UserError
from core.gpt.generate import next_token_distribution
from core.gpt.model import GPTModel
from core.gpt.tokenizers import encode
from core.widgets.token_view import prepare_text

MIN_CONTEXT = 8  # tokens before the first guess, so there is something to read
MAX_GAME_TOKENS = 20_000  # positions are drawn from the first 20,000 tokens: plenty, and cheap to tokenize
MAX_HISTORY = 500  # rounds kept in the score file, oldest dropped


# ---------------------------------------------------------------------------------------------
# Rounds


@dataclass(frozen=True)
class GameText:
    """A text as GPT-2 tokens, ready to play on, with a sentence for each change made to it."""

    ids: list[int]
    notes: list[str]


def tokenize_for_game(text: str) -> GameText:
    """`text` cut to a size the app tokenizes at once, then to `MAX_GAME_TOKENS`; `<|endoftext|>` is one token."""
    prepared = prepare_text(text)
    ids = encode(prepared.text, allow_special=True)
    notes = list(prepared.notes)
    if len(ids) > MAX_GAME_TOKENS:
        notes.append(f"Rounds are drawn from the first {MAX_GAME_TOKENS:,} of its {len(ids):,} tokens.")
        ids = ids[:MAX_GAME_TOKENS]
    if len(ids) <= MIN_CONTEXT:
        raise UserError(f"the text has {len(ids)} tokens; the game needs more than {MIN_CONTEXT} "
                        "(a few words to read before each guess). Use a longer text.")
    return GameText(ids, notes)


def round_positions(n_tokens: int, seed: int, n_rounds: int) -> list[int]:
    """Where each round asks for the next token: the same seed always gives the same positions."""
    available = range(MIN_CONTEXT, n_tokens)
    return random.Random(seed).sample(available, min(n_rounds, len(available)))


# ---------------------------------------------------------------------------------------------
# Guesses and scores


@dataclass(frozen=True)
class Guess:
    text: str  # what was scored, with the space that was added, if any
    ids: list[int]  # all its GPT-2 tokens; only the first counts

    @property
    def token(self) -> int:
        return self.ids[0]


def guess_from_word(word: str, context: str) -> Guess:
    """A typed guess as GPT-2 tokens, read as the next word.

    GPT-2's words carry their leading space (" cat"), so one is added unless the context already
    ends in whitespace or the guess starts with whitespace or punctuation. Typed `<|endoftext|>` is
    ordinary text here, as everywhere a learner types.
    """
    if not word:
        raise UserError("type a guess first")
    attach = not word[0].isalnum() or not context or context[-1].isspace()
    text = word if attach else " " + word
    return Guess(text, encode(text))


@dataclass(frozen=True)
class RoundResult:
    """One round as it goes into the score file."""

    source: str  # the model's label
    text: str  # which text it was played on
    seed: int
    position: int
    true_id: int
    guess_id: int
    confidence: float
    human_logprob: float
    model_logprob: float
    human_correct: bool
    model_correct: bool
    guess_rank: int  # where the model ranks the learner's guess; 1 = its favourite
    guess_prob: float
    when: str


def human_logprob(guess_id: int, true_id: int, confidence: float, vocab_size: int) -> float:
    """Log-probability of the true token under the learner's guess: `confidence` on it, the rest shared evenly."""
    if not 0.0 < confidence < 1.0:
        raise UserError(f"confidence must be between 0 and 1 (exclusive), got {confidence}")
    if guess_id == true_id:
        return math.log(confidence)
    return math.log((1.0 - confidence) / (vocab_size - 1))


def model_probabilities(model: GPTModel, ids: Sequence[int], position: int) -> torch.Tensor:
    """The model's next-token probabilities after `ids[:position]` (temperature 1, nothing cut)."""
    return next_token_distribution(model, list(ids[:position])).probs


def score_round(probs: torch.Tensor, true_id: int, guess_id: int, confidence: float, *, source: str, text: str,
                seed: int, position: int) -> RoundResult:
    """Score the learner's guess and the model's distribution against the token that came next."""
    rank = int((probs > probs[guess_id]).sum()) + 1
    return RoundResult(
        source=source, text=text, seed=seed, position=position, true_id=true_id, guess_id=guess_id,
        confidence=confidence, human_logprob=human_logprob(guess_id, true_id, confidence, probs.shape[-1]),
        model_logprob=math.log(max(float(probs[true_id]), 1e-45)), human_correct=guess_id == true_id,
        model_correct=int(probs.argmax()) == true_id, guess_rank=rank, guess_prob=float(probs[guess_id]),
        when=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def candidates(probs: torch.Tensor, true_id: int, seed: int, n: int = 6) -> list[int]:
    """The true token and the model's other favourites, shuffled by `seed` (a multiple-choice round)."""
    top = [t for t in torch.topk(probs, n).indices.tolist() if t != true_id][: n - 1]
    choice = [true_id, *top]
    random.Random(seed).shuffle(choice)
    return choice


@dataclass(frozen=True)
class Totals:
    """A scoreboard line: the learner against one model."""

    rounds: int
    human_top1: float
    model_top1: float
    human_mean_logprob: float
    model_mean_logprob: float

    @property
    def human_perplexity(self) -> float:
        return math.exp(-self.human_mean_logprob)

    @property
    def model_perplexity(self) -> float:
        return math.exp(-self.model_mean_logprob)


def scoreboard(results: Sequence[RoundResult]) -> dict[str, Totals]:
    """Totals per model source, in the order each source was first played."""
    by_source: dict[str, list[RoundResult]] = {}
    for result in results:
        by_source.setdefault(result.source, []).append(result)
    return {
        source: Totals(
            rounds=len(rounds),
            human_top1=sum(r.human_correct for r in rounds) / len(rounds),
            model_top1=sum(r.model_correct for r in rounds) / len(rounds),
            human_mean_logprob=sum(r.human_logprob for r in rounds) / len(rounds),
            model_mean_logprob=sum(r.model_logprob for r in rounds) / len(rounds),
        )
        for source, rounds in by_source.items()
    }


# ---------------------------------------------------------------------------------------------
# The score file


@dataclass(frozen=True)
class LoadedScores:
    results: list[RoundResult]
    message: str | None = None  # set when the file could not be read and the scoreboard starts afresh


_FIELD_TYPES = {f.name: f.type for f in fields(RoundResult)}
_PYTHON_TYPES = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,)}


def _result(record: object) -> RoundResult:
    if not isinstance(record, dict) or set(record) != set(_FIELD_TYPES):
        raise ValueError("a round without the expected fields")
    for name, kind in _FIELD_TYPES.items():
        value = record[name]
        if not isinstance(value, _PYTHON_TYPES[kind]) or (kind in ("int", "float") and isinstance(value, bool)):
            raise ValueError(f"{name} is not a {kind}")
        if kind == "float" and not math.isfinite(value):
            raise ValueError(f"{name} is not finite")
    return RoundResult(**record)


def load_scores(path: Path) -> LoadedScores:
    """The saved rounds; a damaged file is set aside (renamed `*.corrupt`) and the scoreboard starts empty."""
    if not path.is_file():
        return LoadedScores([])
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not isinstance(data.get("rounds"), list):
            raise ValueError("no list of rounds")
        return LoadedScores([_result(record) for record in data["rounds"]])
    except (OSError, ValueError) as err:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        kept = path.with_name(path.name + ".corrupt")
        try:
            path.replace(kept)
            where = f"it was kept as {kept.name}"
        except OSError:
            where = "it could not be moved aside"
        return LoadedScores([], f"The saved scores in {path} could not be read ({err}); {where} and the "
                                "scoreboard starts afresh.")


def save_scores(path: Path, results: Sequence[RoundResult]) -> list[RoundResult]:
    """Write the newest `MAX_HISTORY` rounds atomically; returns what was kept."""
    kept = list(results)[-MAX_HISTORY:]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text(path, json.dumps({"rounds": [asdict(r) for r in kept]}, indent=1))
    except OSError as err:
        raise Unavailable(f"Could not save the scores to {path} ({err}); they last until you close the page.") from err
    return kept
