"""Which real model the widgets can look inside: checkpoint, cached GPT-2, random weights."""

import pytest
import torch

from core.app import model_sources as ms
from core.gpt.checkpoint import new_run_id, save_checkpoint
from core.gpt.model import GPTModel
from core.gpt.vocab import compact_id_map, save_id_map, vocab_size_of
from core.gpt.weights import HF_REPOS, WeightsUnavailable

CFG = {"vocab_size": 50257, "context_length": 16, "emb_dim": 32, "n_heads": 4, "n_layers": 2, "drop_rate": 0.0,
       "tie_weights": True}


@pytest.fixture
def places(tmp_path, monkeypatch):
    """Empty runs and download folders, and no network for the hub."""
    monkeypatch.setenv("LLM_JOURNAL_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("LLM_JOURNAL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return tmp_path


def fake_cached_gpt2(cache):
    """The folder layout huggingface_hub leaves after downloading GPT-2 small's weights."""
    repo = cache / "huggingface" / ("models--" + HF_REPOS[ms.GPT2_SIZE].replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    snapshot = repo / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "model.safetensors").write_bytes(b"not really weights")
    return snapshot / "model.safetensors"


def test_nothing_on_disk_means_random_weights_first_and_gpt2_on_request(places):
    sources = ms.model_sources()
    assert [s.kind for s in sources] == ["random", "gpt2"]
    assert not sources[0].trained and sources[1].needs_download
    with pytest.raises(ValueError, match="download"):
        ms.load_source(sources[1])
    with pytest.raises(WeightsUnavailable):
        ms.download_source(sources[1])


def test_a_checkpoint_comes_first_and_loads_its_weights(places):
    model = GPTModel(CFG)
    run = places / "runs" / new_run_id()
    save_checkpoint(run, model, status="stopped", history=[], settings={},
                    progress={"step": 7, "epoch": 1, "tokens_seen": 448})
    first = ms.model_sources()[0]
    assert first.kind == "checkpoint" and first.trained and run.name in first.label
    assert "stopped at step 7" in first.detail
    loaded = ms.load_source(first)
    assert not loaded.training
    assert torch.equal(loaded.tok_emb.weight, model.tok_emb.weight)


def test_the_current_model_is_pinned_or_finished_and_every_run_is_offered(places):
    import json

    from core.app import runs

    root = places / "runs"
    finished, stopped, damaged = "20240101-000000-aaaaaa", "20240102-000000-bbbbbb", "20240103-000000-cccccc"
    for run_id, status in ((finished, "finished"), (stopped, "stopped"), (damaged, "finished")):
        save_checkpoint(root / run_id, GPTModel(CFG), status=status, history=[], settings={},
                        progress={"step": 2, "epoch": 1, "tokens_seen": 64})
    meta = json.loads((root / damaged / "checkpoint.json").read_text())
    meta["progress"]["step"] = "abc"
    (root / damaged / "checkpoint.json").write_text(json.dumps(meta))
    assert ms.model_sources()[0].run_id == finished  # the newer run was stopped early; the newest is damaged
    entries = runs.list_entries(root)
    assert [s.run_id for s in ms.run_sources(entries)] == [stopped, finished]
    runs.pin_run(stopped, root)
    assert ms.model_sources()[0].run_id == stopped
    runs.delete_entry(next(e for e in runs.list_entries(root) if e.run_id == stopped), root)
    assert ms.model_sources()[0].run_id == finished


def test_a_run_that_cannot_read_gpt2_tokens_is_not_offered(places):
    save_checkpoint(places / "runs" / new_run_id(), GPTModel({**CFG, "vocab_size": 300}), status="finished",
                    history=[], settings={}, progress={"step": 1, "epoch": 1, "tokens_seen": 16})
    assert [s.kind for s in ms.model_sources()] == ["random", "gpt2"]


def test_a_compact_vocabulary_run_is_offered_over_gpt2_ids(places):
    id_map = compact_id_map([[40, 367, 2885, 1464, 40, 367]], pad_id=None)
    model = GPTModel({**CFG, "vocab_size": vocab_size_of(id_map)})
    run = places / "runs" / new_run_id()
    save_checkpoint(run, model, status="finished", history=[], settings={},
                    progress={"step": 1, "epoch": 1, "tokens_seen": 16})
    save_id_map(run, id_map)
    first = ms.model_sources()[0]
    assert first.kind == "checkpoint" and "a compact vocabulary of 5 tokens" in first.detail
    loaded = ms.load_source(first)
    assert loaded.cfg["vocab_size"] == 50257 and not loaded.training
    ids = torch.tensor([[40, 367, 9999]])
    with torch.no_grad():
        assert torch.equal(loaded(ids)[..., [40, 2885]], model.eval()(id_map[ids])[..., id_map[[40, 2885]]])


def test_cached_gpt2_is_found_without_network(places):
    path = fake_cached_gpt2(places / "cache")
    assert ms.cached_gpt2_weights() == path
    kinds = [(s.kind, s.needs_download) for s in ms.model_sources()]
    assert kinds == [("gpt2", False), ("random", False)]


def test_random_model_is_reproducible_and_leaves_the_global_rng_alone():
    torch.manual_seed(0)
    expected = torch.rand(1)
    torch.manual_seed(0)
    a = ms.random_model()
    assert torch.equal(torch.rand(1), expected)
    b = ms.random_model()
    assert not a.training
    assert torch.equal(a.trf_blocks[0].att.W_query.weight, b.trf_blocks[0].att.W_query.weight)
