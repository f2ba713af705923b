"""Guess the next token: seeded rounds, scoring by log-probability, the scoreboard and its file."""

from __future__ import annotations

import json
import math

import pytest
import torch

from core.errors import Unavailable, UserError
from core.gpt.model import GPTModel
from core.widgets import next_token_game as game

VOCAB = 10
CFG = {"vocab_size": VOCAB, "context_length": 16, "emb_dim": 32, "n_heads": 2, "n_layers": 2}


def known_model(logits: list[float]) -> GPTModel:
    """A model whose next-token scores are `logits` at every position, whatever the input."""
    torch.manual_seed(0)
    model = GPTModel(CFG).eval()
    with torch.no_grad():  # the final norm outputs its shift alone; the head reads it off one dimension
        model.final_norm.scale.zero_()
        model.final_norm.shift.zero_()
        model.final_norm.shift[0] = 1.0
        model.out_head.weight.zero_()
        model.out_head.weight[:, 0] = torch.tensor(logits)
    return model


def result(source="a", human=True, model=False, h=-1.0, m=-2.0) -> game.RoundResult:
    return game.RoundResult(source=source, text="journal", seed=1, position=9, true_id=3, guess_id=3 if human else 4,
                            confidence=0.5, human_logprob=h, model_logprob=m, human_correct=human,
                            model_correct=model, guess_rank=2, guess_prob=0.1, when="2026-01-01T00:00:00+00:00")


def test_scoring_against_a_model_with_a_known_distribution():
    logits = [math.log(p) for p in (0.5, 0.2, 0.1, 0.1, 0.05, 0.01, 0.01, 0.01, 0.01, 0.01)]
    probs = game.model_probabilities(known_model(logits), [1, 2, 3, 4], position=3)
    assert probs.tolist() == pytest.approx([0.5, 0.2, 0.1, 0.1, 0.05, 0.01, 0.01, 0.01, 0.01, 0.01], abs=1e-6)

    right = game.score_round(probs, true_id=1, guess_id=1, confidence=0.8, source="m", text="pasted", seed=4,
                             position=3)
    assert right.human_correct and not right.model_correct  # the model's favourite is token 0
    assert right.human_logprob == pytest.approx(math.log(0.8))
    assert right.model_logprob == pytest.approx(math.log(0.2))
    assert (right.guess_rank, right.guess_prob) == (2, pytest.approx(0.2))

    wrong = game.score_round(probs, true_id=0, guess_id=4, confidence=0.8, source="m", text="pasted", seed=4,
                             position=3)
    assert not wrong.human_correct and wrong.model_correct
    assert wrong.human_logprob == pytest.approx(math.log(0.2 / (VOCAB - 1)))  # the rest, shared by 9 tokens
    assert wrong.model_logprob == pytest.approx(math.log(0.5))
    assert wrong.guess_rank == 5


def test_confidence_must_leave_room_for_being_wrong():
    for confidence in (0.0, 1.0, 1.5):
        with pytest.raises(UserError):
            game.human_logprob(1, 1, confidence, VOCAB)


def test_the_same_seed_replays_the_same_rounds():
    first = game.round_positions(500, seed=7, n_rounds=10)
    assert first == game.round_positions(500, seed=7, n_rounds=10)
    assert first != game.round_positions(500, seed=8, n_rounds=10)
    assert len(set(first)) == 10 and all(game.MIN_CONTEXT <= p < 500 for p in first)
    assert len(game.round_positions(game.MIN_CONTEXT + 3, seed=7, n_rounds=10)) == 3


def test_candidates_hold_the_true_token_and_are_replayable():
    probs = torch.softmax(torch.arange(VOCAB, dtype=torch.float), dim=0)
    picks = game.candidates(probs, true_id=0, seed=3)
    assert len(picks) == 6 and 0 in picks and len(set(picks)) == 6
    assert set(picks) - {0} == {9, 8, 7, 6, 5}  # the model's five favourites
    assert picks == game.candidates(probs, true_id=0, seed=3)
    assert len(game.candidates(probs, true_id=9, seed=3)) == 6  # the favourite itself is true: no duplicate


def test_a_typed_word_is_read_as_the_next_word(gpt2_encoding):
    assert game.guess_from_word("cat", "The").text == " cat"
    assert game.guess_from_word("cat", "The ").text == "cat"
    assert game.guess_from_word(",", "The").text == ","
    multi = game.guess_from_word("Supercalifragilistic", "The")
    assert len(multi.ids) > 1 and multi.token == multi.ids[0]
    assert len(game.guess_from_word("<|endoftext|>", "x").ids) > 1  # typed, it is plain text
    with pytest.raises(UserError):
        game.guess_from_word("", "The")


def test_texts_are_cut_to_what_the_game_reads(gpt2_encoding):
    tokens = game.tokenize_for_game("word " * 50_000)  # 250,000 characters: cut with notes
    assert len(tokens.ids) == game.MAX_GAME_TOKENS and tokens.notes
    assert game.tokenize_for_game("a <|endoftext|> b c d e f g h i j").ids.count(50256) == 1
    with pytest.raises(UserError):
        game.tokenize_for_game("too short")


def test_the_scoreboard_aggregates_per_model_source():
    board = game.scoreboard([result("a", True, False, -1.0, -3.0), result("b", False, True, -4.0, -0.5),
                             result("a", False, True, -2.0, -1.0)])
    assert list(board) == ["a", "b"]
    a = board["a"]
    assert (a.rounds, a.human_top1, a.model_top1) == (2, 0.5, 0.5)
    assert a.human_mean_logprob == pytest.approx(-1.5) and a.model_mean_logprob == pytest.approx(-2.0)
    assert a.human_perplexity == pytest.approx(math.exp(1.5)) and a.model_perplexity == pytest.approx(math.exp(2.0))
    assert board["b"].rounds == 1 and game.scoreboard([]) == {}


def test_the_score_file_round_trips_with_a_bounded_history(tmp_path):
    path = tmp_path / "runs" / "scores.json"
    assert game.load_scores(path) == game.LoadedScores([])
    rounds = [result(h=-float(i)) for i in range(game.MAX_HISTORY + 5)]
    kept = game.save_scores(path, rounds)
    assert kept == rounds[5:]
    loaded = game.load_scores(path)
    assert loaded.message is None and loaded.results == kept
    assert not list(path.parent.glob(".*.tmp"))


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe", b"[]", b'{"rounds": [{"source": 1}]}',
                                     json.dumps({"rounds": [{**vars(result()), "human_logprob": "NaN"}]}).encode()])
def test_a_corrupt_score_file_resets_with_a_message(tmp_path, content):
    path = tmp_path / "scores.json"
    path.write_bytes(content)
    loaded = game.load_scores(path)
    assert loaded.results == [] and "could not be read" in loaded.message
    assert (tmp_path / "scores.json.corrupt").read_bytes() == content  # set aside, not lost
    game.save_scores(path, [result()])
    assert game.load_scores(path).results == [result()]


def test_saving_where_it_cannot_write_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(Unavailable, match="Could not save"):
        game.save_scores(blocker / "scores.json", [result()])
