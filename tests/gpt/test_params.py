"""Parameter accounting reproduces the book's figures (section 4.6)."""

import time

import pytest

from core.gpt.config import PRESETS
from core.gpt.params import COMPONENTS, count_parameters, flops_per_token


@pytest.mark.parametrize(
    "preset, total, tied, mb",
    [
        ("gpt2-small", 163_009_536, 124_412_160, 621.83),
        ("gpt2-medium", 406_212_608, 354_749_440, 1_549.58),
        ("gpt2-large", 838_220_800, 773_891_840, 3_197.56),
        ("gpt2-xl", 1_637_792_000, 1_557_380_800, 6_247.68),
    ],
)
def test_book_totals(preset, total, tied, mb):
    counts = count_parameters(PRESETS[preset])
    assert counts.total == total
    assert counts.total_tied == tied
    assert round(counts.mb_fp32, 2) == mb
    assert counts.mb_bf16 == pytest.approx(mb / 2, abs=0.01)
    assert sum(counts.components.values()) == total
    assert tuple(counts.components) == COMPONENTS


def test_gpt2_small_components_match_the_learners_notes():
    counts = count_parameters(PRESETS["gpt2-small"])
    assert counts.per_block["attention"] == 2_360_064
    assert counts.per_block["feed_forward"] == 4_722_432
    assert counts.components["token_embedding"] == 38_597_376
    assert counts.components["feed_forward"] == 56_669_184
    assert counts.components["attention"] == 28_320_768
    rest = counts.components["positional_embedding"] + counts.components["layer_norms"]
    assert rest == 824_832  # the day-14 "positional embeddings, LayerNorms and the rest"
    assert round(100 * counts.share("feed_forward")) == 35  # of the untied total
    assert round(100 * counts.components["feed_forward"] / counts.total_tied) == 46


def test_qkv_bias_adds_three_bias_vectors_per_block():
    plain = count_parameters(PRESETS["gpt2-small"])
    biased = count_parameters({**PRESETS["gpt2-small"], "qkv_bias": True})
    assert biased.per_block["attention"] - plain.per_block["attention"] == 3 * 768


def test_xl_is_counted_without_allocating():
    start = time.perf_counter()
    count_parameters(PRESETS["gpt2-xl"])
    assert time.perf_counter() - start < 5  # generous: a real allocation of 6 GB takes ~10 s


def test_attention_has_a_bigger_share_of_compute_than_of_weights():
    cfg = PRESETS["gpt2-small"]
    flops = flops_per_token(cfg)
    counts = count_parameters(cfg)
    assert flops["attention_projections"] == 2 * counts.components["attention"] - 2 * 12 * 768  # biases add no matmul
    assert flops["feed_forward"] == 2 * (counts.components["feed_forward"] - 12 * (4 * 768 + 768))
    attention_compute = flops["attention"] / (flops["attention"] + flops["feed_forward"])
    per_block = counts.per_block
    attention_weights = per_block["attention"] / (per_block["attention"] + per_block["feed_forward"])
    assert attention_compute > attention_weights
    assert flops_per_token(cfg, context_tokens=1)["attention_scores"] == 12 * 4 * 768
