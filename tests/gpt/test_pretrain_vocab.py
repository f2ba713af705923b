"""Pretraining on a compact vocabulary computes the full model's function restricted to the corpus's tokens."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from core.errors import UserError
from core.gpt.checkpoint import load_model
from core.gpt.generate import generate
from core.gpt.model import GPTModel
from core.gpt.pretrain import calc_loss_batch, generate_compact_text, pretrain_run
from core.gpt.train import TrainSettings
from core.gpt.vocab import (
    ENDOFTEXT_ID,
    UNKNOWN_ID,
    VOCAB_FILE,
    check_id_map,
    compact_id_map,
    expand_to_gpt2,
    gpt2_ids,
    load_id_map,
    vocab_size_of,
)

SMALL = {"vocab_size": 50257, "context_length": 16, "emb_dim": 32, "n_heads": 4, "n_layers": 2, "drop_rate": 0.0}
CORPUS_IDS = [40, 367, 2885, 1464, 1807, 3619, 402, 271, 10899, 2138, 257, 7026, 15632, 438, 2016, 257, 922, 5891]


def full_and_compact(seed: int = 0) -> tuple[GPTModel, GPTModel, torch.Tensor]:
    """A full-vocabulary model whose head can only score the corpus's tokens and <|endoftext|> (every other
    row -inf-biased), and the compact model with the same rows copied (<|endoftext|>'s as the unknown row)."""
    torch.manual_seed(seed)
    full = GPTModel(SMALL).eval()
    id_map = compact_id_map([CORPUS_IDS], pad_id=None)
    compact = GPTModel({**SMALL, "vocab_size": vocab_size_of(id_map)}).eval()
    rows = gpt2_ids(id_map)  # the GPT-2 row behind each compact ID; UNKNOWN_ID's is <|endoftext|>
    state = full.state_dict()
    state["tok_emb.weight"] = state["tok_emb.weight"][rows]
    state["out_head.weight"] = state["out_head.weight"][rows]
    compact.load_state_dict(state)
    head = nn.Linear(SMALL["emb_dim"], SMALL["vocab_size"], bias=True)
    head.weight = full.out_head.weight
    with torch.no_grad():
        head.bias.fill_(float("-inf"))
        head.bias[rows] = 0.0
    full.out_head = head
    return full, compact, id_map


def test_id_map_without_padding_and_its_inverse():
    id_map = compact_id_map([[500, 7, 7], [9]], pad_id=None)
    assert id_map[[7, 9, 500]].tolist() == [1, 2, 3] and id_map[8] == UNKNOWN_ID and vocab_size_of(id_map) == 4
    assert gpt2_ids(id_map).tolist() == [ENDOFTEXT_ID, 7, 9, 500]
    check_id_map(id_map, 4)
    with pytest.raises(UserError):
        check_id_map(id_map, 3)


def test_compact_model_loss_equals_the_restricted_full_model_loss():
    full, compact, id_map = full_and_compact()
    ids = torch.tensor(CORPUS_IDS)
    x, y = ids[:-1].reshape(1, -1)[:, :16], ids[1:].reshape(1, -1)[:, :16]
    with torch.no_grad():
        reference = F.cross_entropy(full(x).flatten(0, 1), y.flatten())
        mine = calc_loss_batch(id_map[x], id_map[y], compact)  # the fused head loss, as pretraining runs it
    torch.testing.assert_close(mine, reference, atol=1e-5, rtol=1e-5)
    assert float(reference) < 20  # a finite loss: every target is a kept token


def test_compact_generation_maps_back_to_the_same_gpt2_ids():
    full, compact, id_map = full_and_compact(seed=3)
    prompt = torch.tensor([CORPUS_IDS[:5]])
    expected = generate(full, prompt, 8)[0, 5:]
    mine = generate(compact, id_map[prompt], 8)[0, 5:]
    assert gpt2_ids(id_map)[mine].tolist() == expected.tolist()


def test_compact_text_generation_decodes_gpt2_text(gpt2_encoding):
    full, compact, id_map = full_and_compact(seed=4)
    prompt = gpt2_encoding.decode(CORPUS_IDS[:4])
    from core.gpt.generate import generate_text

    assert generate_compact_text(compact, id_map, prompt, 6) == generate_text(full, prompt, 6)


def test_pretrain_run_on_a_compact_vocabulary_saves_and_resumes_its_id_map(verdict_text, gpt2_encoding, tmp_path):
    settings = TrainSettings(epochs=1, lr=2e-3, eval_freq=4, eval_iter=1, seed=5)
    text = verdict_text[:3000]
    done = list(pretrain_run(text, SMALL, settings, batch_size=4, runs_root=tmp_path, sample_tokens=3,
                             compact_vocab=True))[-1]
    model, checkpoint = load_model(done.checkpoint)
    id_map = load_id_map(checkpoint.path, model.cfg["vocab_size"])
    used = set(gpt2_encoding.encode(text, allowed_special="all"))
    assert model.cfg["vocab_size"] == len(used) + 1 and checkpoint.settings["compact_vocab"] is True
    assert (checkpoint.path / VOCAB_FILE).is_file() and set(gpt2_ids(id_map)[1:].tolist()) == used
    resumed = list(pretrain_run(text, SMALL, settings, batch_size=4, runs_root=tmp_path, sample_tokens=3,
                                resume_from=checkpoint.path))[-1]
    again, again_checkpoint = load_model(resumed.checkpoint)
    assert torch.equal(load_id_map(again_checkpoint.path, again.cfg["vocab_size"]), id_map)


def test_the_expanded_model_gives_gpt2_ids_the_compact_probabilities():
    torch.manual_seed(1)
    id_map = compact_id_map([CORPUS_IDS], pad_id=None)
    compact = GPTModel({**SMALL, "vocab_size": vocab_size_of(id_map), "tie_weights": True}).eval()
    full = expand_to_gpt2(compact, id_map)
    assert full.cfg["vocab_size"] == 50257 and not full.training
    ids = torch.tensor([[40, 367, 31337, 2885]])  # 31,337 is not in the corpus: it reads as the unknown token
    with torch.no_grad():
        p_compact = torch.softmax(compact(id_map[ids]), dim=-1)
        p_full = torch.softmax(full(ids), dim=-1)
    kept = sorted(set(CORPUS_IDS))
    torch.testing.assert_close(p_full[..., kept], p_compact[..., id_map[kept]], atol=1e-4, rtol=1e-3)
    shared = id_map == UNKNOWN_ID
    torch.testing.assert_close(p_full[..., shared].sum(-1), p_compact[..., UNKNOWN_ID], atol=1e-4, rtol=1e-3)
    assert torch.equal(full(ids)[..., kept], compact(id_map[ids])[..., id_map[kept]])  # the kept scores exactly
    with pytest.raises(UserError, match="outside"):
        expand_to_gpt2(compact, torch.full((50257,), 10_000, dtype=torch.long))
