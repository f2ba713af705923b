"""The Guess-the-next-token page and its compact version, driven through Streamlit's AppTest."""

from __future__ import annotations

import json

import pytest
import torch
from widget_helpers import PAGES, run_script, texts

from core.gpt.checkpoint import new_run_id, run_path, save_checkpoint
from core.gpt.config import get_preset
from core.gpt.model import GPTModel
from core.paths import game_scores_file

PAGE = str(PAGES / "next_token_game.py")
KEY = "next_token_game"
COMPACT = 'from ui.next_token_game import compact\ncompact("day23")\n'


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch, gpt2_encoding):
    monkeypatch.setenv("LLM_JOURNAL_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("LLM_JOURNAL_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "runs"


@pytest.fixture(autouse=True)
def checkpoint(isolated):
    """A small saved model, so each round is quick."""
    torch.manual_seed(3)
    model = GPTModel(get_preset("tiny", context_length=16, n_layers=1))
    folder = run_path(new_run_id(), isolated)
    save_checkpoint(folder, model, status="finished", history=[], settings={"preset": "tiny"},
                    progress={"step": 12, "epoch": 1, "tokens_seen": 192})
    return folder


def saved_rounds() -> list[dict]:
    return json.loads(game_scores_file().read_text(encoding="utf-8"))["rounds"]


def context(at) -> str:
    return at.code[0].value


def guess_word(at, word: str):
    at.text_input(key=f"{KEY}_word").set_value(word).run()
    return at.button(key=f"{KEY}_guess").click().run()


def test_a_typed_round_is_revealed_scored_and_saved(checkpoint):
    at = run_script(PAGE)
    assert "Round 1 of 10" in texts(at.markdown)
    assert context(at).endswith("▌")
    guess_word(at, "the")
    assert not at.exception
    labels = [m.label for m in at.metric]
    assert "Model's rank for your guess" in labels and "Your log-probability" in labels
    assert "The next token was" in texts(at.info) or "Right" in texts(at.success)
    [saved] = saved_rounds()
    assert saved["source"].endswith(f"(run {checkpoint.name})") and saved["text"] == "journal"
    assert saved["confidence"] == 0.5
    board = at.dataframe[0].value
    assert board["rounds"].tolist() == [1] and board["model"][0] == saved["source"]
    at.button(key=f"{KEY}_next").click().run()
    assert "Round 2 of 10" in texts(at.markdown) and at.text_input(key=f"{KEY}_word").value == ""


def test_the_same_seed_replays_the_same_rounds():
    first, second = run_script(PAGE), run_script(PAGE)
    assert context(first) == context(second)
    second.number_input(key=f"{KEY}_seed").set_value(2).run()
    assert context(second) != context(first)
    second.number_input(key=f"{KEY}_seed").set_value(1).run()
    assert context(second) == context(first)


def test_picking_a_candidate():
    at = run_script(PAGE)
    at.radio(key=f"{KEY}_mode").set_value("Pick from 6 candidates").run()
    at.button(key=f"{KEY}_guess").click().run()
    assert "Pick one of the tokens first" in texts(at.warning)
    options = at.radio(key=f"{KEY}_pick").options
    assert len(options) == 6
    at.radio(key=f"{KEY}_pick").set_value(at.radio(key=f"{KEY}_pick").options[0])  # not a rerun yet
    at.slider(key=f"{KEY}_confidence").set_value(90).run()
    at.button(key=f"{KEY}_guess").click().run()
    assert not at.exception
    assert saved_rounds()[0]["confidence"] == 0.9


def test_an_empty_guess_asks_for_one():
    at = guess_word(run_script(PAGE), "")
    assert not at.exception and "Type a guess first" in texts(at.warning)
    assert not game_scores_file().exists()


@pytest.mark.parametrize("word", ["<|endoftext|>", "Supercalifragilisticexpialidocious", "👩‍👩‍👧", "\u202eevil", ","])
def test_odd_guesses_are_scored_by_their_first_token(word):
    at = guess_word(run_script(PAGE), word)
    assert not at.exception
    assert len(saved_rounds()) == 1
    if word.startswith(("<", "Super")):
        assert "it was scored by its first" in texts(at.caption)


def test_a_corrupt_score_file_starts_a_fresh_scoreboard_with_a_message():
    path = game_scores_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"rounds": [{"source": ')
    at = run_script(PAGE)
    assert "could not be read" in texts(at.warning)
    assert path.with_name(path.name + ".corrupt").exists()
    guess_word(at, "the")
    assert not at.exception and len(saved_rounds()) == 1


@pytest.mark.parametrize("text", ["", "too short"])
def test_pasted_text_too_short(text):
    at = run_script(PAGE)
    at.radio(key=f"{KEY}_text").set_value("pasted").run()
    at.text_area(key=f"{KEY}_paste").set_value(text).run()
    assert not at.exception and "the game needs more than 8" in texts(at.info)
    assert "Round 1" not in texts(at.markdown)


@pytest.mark.parametrize("text", ["word " * 200_000, "<|endoftext|> " * 30 + "e\u0301 👩‍👩‍👧 \u202eevil \ufeff" * 10])
def test_hostile_pasted_text_still_plays(text):
    at = run_script(PAGE)
    at.radio(key=f"{KEY}_text").set_value("pasted").run()
    at.text_area(key=f"{KEY}_paste").set_value(text).run()
    assert not at.exception and "Round 1 of 10" in texts(at.markdown)
    if len(text) > 100_000:
        assert "only the first 100,000 are tokenized" in texts(at.caption)
    guess_word(at, "word")
    assert not at.exception and saved_rounds()[0]["text"] == "pasted"


def test_the_verdict_and_tiny_shakespeare(tmp_path, monkeypatch, verdict_text):
    at = run_script(PAGE)
    for name in ("the-verdict", "tinyshakespeare"):
        at.radio(key=f"{KEY}_text").set_value(name).run()
        assert not at.exception and "Round 1 of 10" in texts(at.markdown), name
    monkeypatch.setenv("LLM_JOURNAL_DATA_DIR", str(tmp_path / "no-data"))
    at.run()
    assert '"Tiny Shakespeare" is not on this machine yet' in texts(at.warning)
    assert "raw.githubusercontent.com" in texts(at.warning)


def test_the_compact_game_plays_to_the_end_and_again(checkpoint):
    at = run_script(COMPACT)
    assert checkpoint.name in texts(at.caption)
    for round_no in range(1, 6):
        assert f"Round {round_no} of 5" in texts(at.markdown)
        radio = at.radio(key="day23_pick")
        radio.set_value(radio.options[0])
        at.button(key="day23_guess").click().run()
        assert not at.exception
        at.button(key="day23_next").click().run()
    assert "Game over" in texts(at.success) and "of 5 right" in texts(at.success)
    assert "over 5 rounds" in texts(at.caption)
    at.button(key="day23_again").click().run()
    assert not at.exception and "Round 1 of 5" in texts(at.markdown)
    assert at.session_state["day23_seed"] == 2


def test_scores_that_cannot_be_saved_last_for_the_session(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("LLM_JOURNAL_RUNS_DIR", str(blocker / "runs"))
    at = guess_word(run_script(PAGE), "the")
    assert not at.exception
    assert "Could not save the scores" in texts(at.warning)
    assert at.dataframe[0].value["rounds"].tolist() == [1]
