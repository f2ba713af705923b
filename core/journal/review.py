"""Self-test cards from the chapters read, scheduled by FSRS (the `fsrs` library), their history beside the journal.

The book's cards (`core.app.review_cards`) have answers computed live by the GPT code, never typed in;
the learner adds cards of their own (question, answer, optional tolerance). Each card's FSRS state and every
review live in `journal/.review.json`, written atomically; a damaged file is set aside and a fresh one begun.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fsrs import Card, Rating, Scheduler

from core.atomic import write_text
from core.errors import UserError

REVIEW_FILE = ".review.json"
FORMAT = "llm-journal-review"
VERSION = 1
MAX_OWN_CARDS = 500
MAX_CARD_CHARS = 500
MAX_FILE_BYTES = 5_000_000
SCHEDULER = Scheduler(enable_fuzzing=False)  # the same answers give the same due dates: testable, explainable


class ReviewError(UserError):
    """A card or an answer that cannot be used; the message says what to fix."""


@dataclass(frozen=True)
class ReviewCard:
    """A question with its answer: a number (within `tolerance`) or one of `choices`."""

    id: str
    question: str
    answer: float | str
    explanation: str = ""
    tolerance: float = 0.0  # numbers: how far from the answer still counts as right
    choices: tuple[str, ...] = ()  # text answers: the options offered (the answer among them)
    chapter: str = ""
    widget: str = ""  # the widget that shows it, by registry name
    own: bool = False

    @property
    def numeric(self) -> bool:
        return isinstance(self.answer, (int, float))


# ---------------------------------------------------------------------------------------------
# Answers


_NUMBER = re.compile(r"[-+]?(?:\d[\d,_ ]*)?\.?\d+(?:[eE][-+]?\d+)?")


def parse_number(text: str) -> float:
    """'354,823,168', '354 823 168', '10.82', '1e3' as numbers; `ReviewError` for anything else."""
    cleaned = text.strip()
    if not _NUMBER.fullmatch(cleaned):
        raise ReviewError(f"{text.strip()[:40]!r} is not a number; write digits, such as 10.82 or 354,823,168")
    return float(re.sub(r"[,_ ]", "", cleaned))


def is_right(card: ReviewCard, given: str) -> bool:
    """Whether `given` answers `card`: numbers within the tolerance, text compared without case or spacing."""
    if card.numeric:
        return abs(parse_number(given) - float(card.answer)) <= card.tolerance + 1e-9
    return " ".join(given.lower().split()) == " ".join(str(card.answer).lower().split())


def own_card(question: str, answer: str, tolerance: str = "", day: int | None = None) -> ReviewCard:
    """A card the learner writes from a note; a number answer may have a tolerance."""
    question, answer = question.strip(), answer.strip()
    if not question:
        raise ReviewError("the card has no question")
    if not answer:
        raise ReviewError("the card has no answer: write what the right answer is")
    if len(question) > MAX_CARD_CHARS or len(answer) > MAX_CARD_CHARS:
        raise ReviewError(f"questions and answers are at most {MAX_CARD_CHARS} characters")
    value: float | str = answer
    try:
        value = parse_number(answer)
    except ReviewError:
        if tolerance.strip():
            raise ReviewError("a tolerance only fits a number answer") from None
    spread = parse_number(tolerance) if tolerance.strip() else 0.0
    if spread < 0 or not math.isfinite(spread):
        raise ReviewError("the tolerance must be zero or more")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S%f")
    return ReviewCard(id=f"own-{stamp}", question=question, answer=value, tolerance=spread, own=True,
                      explanation=f"Your card{f' from day {day}' if day else ''}.")


# ---------------------------------------------------------------------------------------------
# The review file


@dataclass
class ReviewState:
    """Every card's FSRS state, the reviews done, and the learner's own cards."""

    cards: dict[str, Card] = field(default_factory=dict)
    log: list[dict[str, Any]] = field(default_factory=list)  # {"card": id, "rating": 1-4, "at": iso, "right": bool}
    own: list[ReviewCard] = field(default_factory=list)


def review_path(directory: Path) -> Path:
    return directory / REVIEW_FILE


def load_review(directory: Path) -> tuple[ReviewState, str | None]:
    """The review state, and a message when the file was damaged (it is set aside and a fresh one begun)."""
    path = review_path(directory)
    if not path.is_file():
        return ReviewState(), None
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ValueError(f"it is larger than {MAX_FILE_BYTES:,} bytes")
        return _from_json(json.loads(path.read_text(encoding="utf-8"))), None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        kept = path.with_name(f"{REVIEW_FILE}.damaged-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}")
        try:
            path.replace(kept)
        except OSError:
            return ReviewState(), f"The review history {path.name} could not be read ({err}); reviews start afresh."
        return ReviewState(), (f"The review history {path.name} could not be read ({err}). It was set aside as "
                               f"{kept.name} and reviews start afresh.")


def _from_json(data: Any) -> ReviewState:
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("version") != VERSION:
        raise ValueError("it is not a review history of this app")
    own = [ReviewCard(id=str(c["id"]), question=str(c["question"]), answer=c["answer"],
                      tolerance=float(c.get("tolerance", 0)), explanation=str(c.get("explanation", "")), own=True)
           for c in data["own"]]
    if any(not isinstance(c.answer, (int, float, str)) or isinstance(c.answer, bool) for c in own):
        raise ValueError("a card of yours has an answer that is not text or a number")
    log = [dict(e) for e in data["log"]]
    return ReviewState(cards={str(k): Card.from_dict(v) for k, v in data["cards"].items()}, log=log, own=own)


def save_review(directory: Path, state: ReviewState) -> Path:
    data = {
        "format": FORMAT, "version": VERSION,
        "cards": {k: c.to_dict() for k, c in state.cards.items()},
        "log": state.log,
        "own": [{"id": c.id, "question": c.question, "answer": c.answer, "tolerance": c.tolerance,
                 "explanation": c.explanation} for c in state.own],
    }
    directory.mkdir(parents=True, exist_ok=True)
    return write_text(review_path(directory), json.dumps(data, indent=1))


def add_own(directory: Path, state: ReviewState, card: ReviewCard) -> ReviewState:
    if len(state.own) >= MAX_OWN_CARDS:
        raise ReviewError(f"you have {MAX_OWN_CARDS} cards of your own, the most kept; remove some first")
    state.own.append(card)
    save_review(directory, state)
    return state


# ---------------------------------------------------------------------------------------------
# Scheduling (FSRS)


def _now(now: dt.datetime | None) -> dt.datetime:
    return now or dt.datetime.now(dt.UTC)


def due(cards: Sequence[ReviewCard], state: ReviewState, now: dt.datetime | None = None) -> list[ReviewCard]:
    """The cards due now, the longest overdue first; a card never reviewed is due."""
    now = _now(now)

    def due_at(card: ReviewCard) -> dt.datetime:
        known = state.cards.get(card.id)
        return known.due if known is not None else dt.datetime.min.replace(tzinfo=dt.UTC)

    return sorted((c for c in cards if due_at(c) <= now), key=due_at)


def record(directory: Path, state: ReviewState, card: ReviewCard, right: bool,
           now: dt.datetime | None = None) -> dt.datetime:
    """Schedule `card` after an answer (right: Good, wrong: Again) and save; returns when it is due next."""
    now = _now(now)
    rating = Rating.Good if right else Rating.Again
    scheduled, _log = SCHEDULER.review_card(state.cards.get(card.id) or Card(), rating, now)
    state.cards[card.id] = scheduled
    state.log.append({"card": card.id, "rating": int(rating), "right": right, "at": now.isoformat()})
    save_review(directory, state)
    return scheduled.due


@dataclass(frozen=True)
class ReviewStats:
    reviews: int
    due_now: int
    retention: float | None  # share of reviews answered right
    per_day: dict[dt.date, int]


def stats(cards: Sequence[ReviewCard], state: ReviewState, now: dt.datetime | None = None) -> ReviewStats:
    per_day: dict[dt.date, int] = {}
    right = 0
    for entry in state.log:
        try:
            day = dt.datetime.fromisoformat(str(entry["at"])).date()
        except (KeyError, ValueError):
            continue
        per_day[day] = per_day.get(day, 0) + 1
        right += bool(entry.get("right"))
    reviews = sum(per_day.values())
    return ReviewStats(reviews=reviews, due_now=len(due(cards, state, now)),
                       retention=right / reviews if reviews else None, per_day=per_day)

