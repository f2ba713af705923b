"""The command line's named corpora and device choice."""

from __future__ import annotations

import pytest
import torch

from core.gpt.config import get_preset
from core.gpt.data import CorpusError
from core.gpt.params import count_parameters
from core.gpt.pretrain import NAMED_CORPORA, corpus_from_arg, main


@pytest.fixture
def data_folders(tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_JOURNAL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LLM_JOURNAL_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def test_a_named_corpus_is_read_from_the_data_folder_or_the_cache(data_folders):
    relative, _ = NAMED_CORPORA["tinyshakespeare"]
    cached = data_folders / "cache" / relative
    cached.parent.mkdir(parents=True)
    cached.write_text("First Citizen:\nBefore we proceed any further, hear me speak.\n", encoding="utf-8")
    assert corpus_from_arg("tinyshakespeare").startswith("First Citizen:")


def test_a_missing_named_corpus_says_where_to_get_it(data_folders):
    with pytest.raises(CorpusError, match="tinyshakespeare is not in the data folder.*char-rnn"):
        corpus_from_arg("tinyshakespeare")


def test_anything_else_is_a_path(data_folders):
    path = data_folders / "mine.txt"
    path.write_text("some text", encoding="utf-8")
    assert corpus_from_arg(str(path)) == "some text"
    with pytest.raises(CorpusError, match="does not exist"):
        corpus_from_arg(str(data_folders / "nope.txt"))


def test_asking_for_an_absent_gpu_ends_with_a_clear_message(data_folders, monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    path = data_folders / "mine.txt"
    path.write_text("some text " * 200, encoding="utf-8")
    assert main(["--corpus", str(path), "--device", "cuda", "--runs-dir", str(data_folders / "runs")]) == 2
    assert "no usable CUDA GPU" in capsys.readouterr().err
    assert not (data_folders / "runs").exists()


def test_the_shakespeare_preset_is_small_where_it_costs_time():
    cfg = get_preset("shakespeare")
    counts = count_parameters(cfg)
    # The embedding and the output head are most of the weights; the blocks are what a CPU can afford.
    assert cfg["emb_dim"] <= 256 and cfg["n_layers"] <= 6 and counts.total < 20e6
