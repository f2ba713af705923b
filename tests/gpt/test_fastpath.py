"""The CPU fast path's switches: bf16 autocast with its fp32 fallback, and fused AdamW."""

import pytest
import torch
import torch.nn.functional as F

from core.gpt import fastpath
from core.gpt.attention import KVCache, MultiHeadAttention
from core.gpt.model import GPTModel
from core.gpt.pretrain import calc_loss_batch

SMALL = {"vocab_size": 100, "context_length": 16, "emb_dim": 32, "n_heads": 4, "n_layers": 2, "drop_rate": 0.0}


@pytest.fixture
def fresh_support_check():
    fastpath.bf16_supported.cache_clear()
    yield
    fastpath.bf16_supported.cache_clear()


def _logits(model: GPTModel, idx: torch.Tensor, bf16: bool) -> torch.Tensor:
    with torch.no_grad(), fastpath.autocast_context(bf16):
        return model(idx)


def test_bf16_logits_stay_close_to_fp32():
    if not fastpath.bf16_supported():
        pytest.skip("this CPU has no native bf16: the fast path is plain fp32 here")
    torch.manual_seed(0)
    model = GPTModel(SMALL).eval()
    idx = torch.randint(0, 100, (2, 12))
    fast, exact = _logits(model, idx, True), _logits(model, idx, False)
    assert fast.dtype == torch.bfloat16 and exact.dtype == torch.float32
    torch.testing.assert_close(fast.float(), exact, atol=0.05, rtol=0.05)
    assert torch.equal(fast.float().argmax(-1), exact.argmax(-1))


def test_disabled_context_is_exact_fp32():
    torch.manual_seed(0)
    model = GPTModel(SMALL).eval()
    idx = torch.randint(0, 100, (1, 9))
    with torch.no_grad():
        expected = model(idx)
    assert torch.equal(_logits(model, idx, False), expected)


def test_env_switch_and_missing_hardware_fall_back_to_fp32(monkeypatch, fresh_support_check):
    monkeypatch.setenv(fastpath.BF16_ENV, "0")
    assert not fastpath.bf16_supported()
    with fastpath.autocast_context(True):
        assert not torch.is_autocast_enabled("cpu")
    fastpath.bf16_supported.cache_clear()
    monkeypatch.delenv(fastpath.BF16_ENV)
    monkeypatch.setattr(fastpath, "cpu_has_native_bf16", lambda: False)
    assert not fastpath.bf16_supported()
    torch.manual_seed(0)
    model = GPTModel(SMALL)
    assert _logits(model, torch.zeros(1, 3, dtype=torch.long), True).dtype == torch.float32


def test_autocast_failing_its_sanity_check_falls_back(monkeypatch, fresh_support_check):
    monkeypatch.setattr(fastpath, "cpu_has_native_bf16", lambda: True)
    real_linear = F.linear
    monkeypatch.setattr(F, "linear", lambda x, w, b=None: real_linear(x, w, b) * 2)  # a broken bf16 kernel
    assert not fastpath.bf16_supported()


def test_fused_adamw_takes_the_same_step_as_the_default():
    torch.manual_seed(0)
    models = [GPTModel(SMALL), GPTModel(SMALL)]
    models[1].load_state_dict(models[0].state_dict())
    optimizers = [fastpath.make_adamw(models[0].parameters(), 1e-3, 0.1, fused=False),
                  fastpath.make_adamw(models[1].parameters(), 1e-3, 0.1)]
    assert bool(optimizers[1].defaults["fused"]) == fastpath.fused_adamw_supported()
    idx = torch.randint(0, 100, (2, 8))
    for _ in range(3):
        for model, optimizer in zip(models, optimizers, strict=False):
            optimizer.zero_grad()
            F.cross_entropy(model(idx).flatten(0, 1), idx.flatten()).backward()
            optimizer.step()
    for a, b in zip(models[0].parameters(), models[1].parameters(), strict=False):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("capacity", [None, 4, 32])
def test_kv_cache_fills_in_place_and_grows_when_full(capacity):
    cache = KVCache(2, capacity)
    keys = torch.randn(2, 3, 11, 5)
    values = torch.randn(2, 3, 11, 5)
    start = 0
    for size in (3, 1, 1, 6):
        for layer in (0, 1):
            k, v = cache.update(layer, keys[:, :, start : start + size], values[:, :, start : start + size] + layer)
            torch.testing.assert_close(k, keys[:, :, : start + size], rtol=0, atol=0)
            torch.testing.assert_close(v, values[:, :, : start + size] + layer, rtol=0, atol=0)
        start += size
        assert len(cache) == start


def test_model_cache_is_allocated_once_for_the_whole_window():
    model = GPTModel(SMALL).eval()
    cache = model.new_cache()
    with torch.no_grad():
        model(torch.zeros(1, 4, dtype=torch.long), cache)
        storage = cache.layers[0][0].data_ptr()
        for _ in range(SMALL["context_length"] - 4):
            model(torch.zeros(1, 1, dtype=torch.long), cache)
    assert len(cache) == SMALL["context_length"]
    assert cache.layers[0][0].data_ptr() == storage


def _head_case(tied: bool = False):
    torch.manual_seed(0)
    model = GPTModel({**SMALL, "tie_weights": tied})
    idx = torch.randint(0, 100, (3, 10))
    targets = torch.randint(0, 100, (3, 10))
    return model, idx, targets


def _loss_and_grads(model, loss_fn):
    model.zero_grad()
    loss = loss_fn()
    (2 * loss).backward()  # a scaled loss checks that the incoming gradient is applied
    return loss.detach(), [p.grad.clone() for p in model.parameters()]


@pytest.mark.parametrize("tied", [False, True])
def test_pretraining_loss_equals_cross_entropy_of_the_logits(tied, monkeypatch):
    monkeypatch.setattr(fastpath, "SCORE_BLOCK", 7)  # blocks and row groups that do not divide the 30 tokens
    monkeypatch.setattr(fastpath, "SCORE_ROWS", 4)
    model, idx, targets = _head_case(tied)
    expected = _loss_and_grads(model, lambda: F.cross_entropy(model(idx).flatten(0, 1), targets.flatten()))
    with monkeypatch.context() as patch:  # ordinary targets never need the exact fallback for tiny probabilities
        patch.setattr(torch, "log_softmax", None)
        fused = _loss_and_grads(model, lambda: calc_loss_batch(idx, targets, model))
    torch.testing.assert_close(fused[0], expected[0])
    for got, want in zip(fused[1], expected[1], strict=False):
        torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-5)
    with torch.no_grad():
        torch.testing.assert_close(calc_loss_batch(idx, targets, model), expected[0])


def test_pretraining_loss_under_bf16_matches_autocast_cross_entropy():
    if not fastpath.bf16_supported():
        pytest.skip("this CPU has no native bf16")
    model, idx, targets = _head_case()
    with fastpath.autocast_context():
        expected = _loss_and_grads(model, lambda: F.cross_entropy(model(idx).flatten(0, 1), targets.flatten()))
        fused = _loss_and_grads(model, lambda: calc_loss_batch(idx, targets, model))
    assert fused[0].dtype == torch.float32
    # The loss reads the target's probability after bf16 rounding (at most 0.2% off): under 0.002 in the mean.
    torch.testing.assert_close(fused[0], expected[0], atol=2e-3, rtol=0)
    for got, want in zip(fused[1], expected[1], strict=False):
        assert got.dtype == torch.float32
        torch.testing.assert_close(got, want, atol=2e-3, rtol=2e-2)


def test_pretraining_loss_rejects_bad_targets():
    model, idx, targets = _head_case()
    with pytest.raises(ValueError, match="must have the inputs' shape"):
        calc_loss_batch(idx, targets[:, :5], model)
    with pytest.raises(ValueError, match=r"0\.\.99"):
        calc_loss_batch(idx, targets.clamp(max=0) + 100, model)
    with pytest.raises(ValueError, match="no targets"):
        fastpath.head_cross_entropy(torch.zeros(0, 32), model.out_head.weight, torch.zeros(0, dtype=torch.long))


def test_vanishing_target_probability_still_gives_the_exact_loss():
    torch.manual_seed(0)
    hidden = torch.randn(5, 8, requires_grad=True)
    weight = torch.randn(50, 8)
    weight[3] = -40 * hidden[2].detach()  # token 3 scores about -40 * |h|^2 for row 2: probability ~ e^-300
    targets = torch.tensor([1, 2, 3, 4, 5])
    expected = F.cross_entropy(hidden @ weight.T, targets)
    assert torch.softmax(hidden[2] @ weight.T, -1)[3] == 0  # underflows in float32
    loss = fastpath.head_cross_entropy(hidden, weight, targets)
    assert torch.isfinite(loss) and loss > 50
    torch.testing.assert_close(loss, expected)


def test_training_attention_with_dropout_stays_causal_and_drops():
    torch.manual_seed(0)
    mha = MultiHeadAttention(16, 16, 32, 0.5, 4).train()
    x = torch.randn(1, 9, 16)
    changed = x.clone()
    changed[:, -1] += 1  # only the last token differs
    torch.manual_seed(1)
    out, weights = mha(x)
    torch.manual_seed(1)
    out_changed, _ = mha(changed)
    assert weights is None
    torch.testing.assert_close(out[:, :-1], out_changed[:, :-1], rtol=0, atol=0)
    assert not torch.allclose(out[:, -1], out_changed[:, -1])
    torch.manual_seed(2)
    assert not torch.equal(mha(x)[0], out)  # another seed, other dropout masks


class _FakeLibc:
    def __init__(self):
        self.calls = []

    def mallopt(self, param, value):
        self.calls.append(("mallopt", param, value))
        return 1

    def malloc_trim(self, pad):
        self.calls.append(("malloc_trim", pad))
        return 1


def test_large_tensors_use_the_heap_only_while_training(monkeypatch):
    libc = _FakeLibc()
    monkeypatch.setattr(fastpath, "_glibc", lambda: libc)

    def loop(n):
        with fastpath.heap_for_large_tensors():
            for i in range(n):
                with fastpath.heap_for_large_tensors():  # nested use changes nothing
                    yield i, list(libc.calls)

    seen = list(loop(2))
    raised = ("mallopt", fastpath.M_MMAP_THRESHOLD, fastpath.LARGE_BLOCKS_ON_HEAP)
    assert [calls for _, calls in seen] == [[raised], [raised]]
    assert libc.calls == [raised, ("mallopt", fastpath.M_MMAP_THRESHOLD, fastpath.DEFAULT_MMAP_THRESHOLD_MAX),
                          ("malloc_trim", 0)]
    libc.calls.clear()
    events = loop(5)
    next(events)
    events.close()  # a stopped run restores the default too
    assert libc.calls[-1] == ("malloc_trim", 0) and len(libc.calls) == 3


def test_heap_setting_is_harmless_for_real_and_elsewhere(monkeypatch):
    with fastpath.heap_for_large_tensors():
        big = torch.ones(20_000_000)  # 80 MB
        assert float(big.sum()) == 20_000_000
    monkeypatch.setattr(fastpath, "_glibc", lambda: None)  # macOS, Windows, musl
    with fastpath.heap_for_large_tensors():
        assert torch.zeros(3).sum() == 0
