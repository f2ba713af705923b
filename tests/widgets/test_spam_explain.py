"""Token influence by occlusion, on a tiny classifier whose answer is planted in its weights."""

from __future__ import annotations

import pytest
import torch

from core.gpt.classifier import ClassifierInputError, GPTClassifier
from core.gpt.config import get_preset
from core.gpt.model import GPTModel
from core.widgets.spam_explain import MAX_INFLUENCE_TOKENS, CannotExplain, leave_one_out, token_influence

WORDS = ["<pad>", "hi", "are", "we", "still", "on", "for", "WIN", "lunch", "cash", "tomorrow", "now"]
IDS = {w: i for i, w in enumerate(WORDS)}
SPAM_ID, HAM_ID = IDS["WIN"], IDS["lunch"]


def encode(text: str) -> list[int]:
    return [IDS[w] for w in text.split()]


def decode(ids) -> str:
    return " ".join(WORDS[i] for i in ids)


@pytest.fixture
def planted() -> GPTClassifier:
    """Blocks that add nothing and no positions: each token's vote for spam is its embedding's first number.

    "WIN" votes strongly for spam and "lunch" for ham; every other word's vote is small and random.
    """
    torch.manual_seed(0)
    cfg = get_preset("tiny", vocab_size=len(WORDS), emb_dim=32, n_heads=2, n_layers=2, context_length=128,
                     drop_rate=0.0)
    classifier = GPTClassifier(GPTModel(cfg), ("ham", "spam"), pooling="mean", pad_id=IDS["<pad>"])
    gpt = classifier.gpt
    with torch.no_grad():
        for block in gpt.trf_blocks:
            for layer in (block.att.out_proj, block.ff.layers[2]):
                layer.weight.zero_()
                layer.bias.zero_()
        gpt.pos_emb.weight.zero_()
        gpt.tok_emb.weight.normal_(0, 0.1)
        gpt.tok_emb.weight[SPAM_ID, 0] = 3.0
        gpt.tok_emb.weight[HAM_ID, 0] = -3.0
        gpt.out_head.weight.zero_()
        gpt.out_head.bias.zero_()
        gpt.out_head.weight[1, 0] = 1.0  # the spam logit reads the first number
    return classifier.eval()


def test_the_planted_spam_token_pushes_hardest_towards_spam(planted):
    text = "hi are we still on for WIN lunch tomorrow"
    influence = token_influence(planted, text, encode, decode)
    assert [token for token, _ in influence] == text.split()
    deltas = dict(influence)
    assert max(deltas, key=deltas.get) == "WIN" and deltas["WIN"] > 0.05
    assert min(deltas, key=deltas.get) == "lunch" and deltas["lunch"] < -0.05


def test_influence_is_the_change_when_the_token_is_left_out(planted):
    influence = token_influence(planted, "cash now WIN", encode, decode)
    spam = [planted(torch.tensor([encode(t)])).softmax(-1)[0, 1].item() for t in ("cash now WIN", "cash now")]
    assert influence[2][1] == pytest.approx(spam[0] - spam[1], abs=1e-5)


def test_one_forward_over_every_variant(planted, monkeypatch):
    shapes = []
    original = planted.forward
    monkeypatch.setattr(planted, "forward", lambda idx: shapes.append(tuple(idx.shape)) or original(idx))
    token_influence(planted, "hi are we still on", encode, decode)
    assert shapes == [(6, 5)]


def test_leave_one_out_rows():
    assert leave_one_out([5, 6, 7], pad_id=0).tolist() == [[5, 6, 7], [6, 7, 0], [5, 7, 0], [5, 6, 0]]


def test_only_the_tokens_the_classifier_reads_are_explained(planted):
    planted.max_length = 3
    assert [t for t, _ in token_influence(planted, "hi are we still on", encode, decode)] == ["hi", "are", "we"]


def test_messages_it_cannot_explain_get_a_clear_error(planted):
    with pytest.raises(ClassifierInputError):
        token_influence(planted, "  ", encode, decode)
    with pytest.raises(CannotExplain, match="one token"):
        token_influence(planted, "WIN", encode, decode)
    with pytest.raises(CannotExplain, match=f"at most {MAX_INFLUENCE_TOKENS} tokens"):
        token_influence(planted, " ".join(["hi"] * (MAX_INFLUENCE_TOKENS + 1)), encode, decode)
