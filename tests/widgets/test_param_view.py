"""Shares, sizes and weights-vs-compute for the parameter charts (section 4.6)."""

import pytest

from core.gpt.config import get_preset
from core.gpt.params import count_parameters
from core.widgets import param_view as pv


def test_component_rows_untied_and_tied():
    count = count_parameters(get_preset("gpt2-small"))
    untied = pv.component_rows(count, tied=False)
    assert sum(r["parameters"] for r in untied) == 163_009_536
    assert sum(r["share"] for r in untied) == pytest.approx(1.0)
    tied = {r["component"]: r for r in pv.component_rows(count, tied=True)}
    assert "Output head" not in tied
    # the learner's day-14 percentages are shares of the tied total
    assert round(100 * tied["Token embedding"]["share"]) == 31
    assert round(100 * tied["Feed-forward"]["share"]) == 46
    assert round(100 * tied["Attention"]["share"]) == 23


def test_the_rest_beside_the_main_parts_is_positions_and_layer_norms():
    count = count_parameters(get_preset("gpt2-small"))
    assert pv.rest_beside_main_parts(count) == 824_832
    assert count.components["positional_embedding"] + count.components["layer_norms"] == 824_832


def test_preset_rows_cover_every_size_and_extra():
    rows = pv.preset_rows(tied=False, extra={"mine": get_preset("tiny")})
    totals = {}
    for row in rows:
        totals[row["model"]] = totals.get(row["model"], 0) + row["parameters"]
    assert totals["gpt2-small"] == 163_009_536 and totals["gpt2-xl"] == 1_637_792_000
    assert totals["mine"] == count_parameters(get_preset("tiny")).total
    tied_xl = sum(r["parameters"] for r in pv.preset_rows(tied=True) if r["model"] == "gpt2-xl")
    assert tied_xl == 1_557_380_800


def test_weights_vs_compute():
    rows = {r["part"]: r for r in pv.weights_vs_compute(get_preset("gpt2-small"), context_tokens=1024)}
    assert rows["Feed-forward"]["parameters"] == 56_669_184 and rows["Attention"]["parameters"] == 28_320_768
    assert rows["Attention"]["parameter share"] == pytest.approx(28_320_768 / 163_009_536)
    # attention's share of the compute exceeds its share of the weights; the feed-forward's does not grow
    assert rows["Attention"]["FLOP share"] > rows["Attention"]["parameter share"]
    short = {r["part"]: r for r in pv.weights_vs_compute(get_preset("gpt2-small"), context_tokens=1)}
    assert short["Attention"]["FLOP share"] < rows["Attention"]["FLOP share"]
    assert short["Attention"]["parameter share"] == rows["Attention"]["parameter share"]
    tied = {r["part"]: r for r in pv.weights_vs_compute(get_preset("gpt2-small", tie_weights=True))}
    assert tied["Output head"]["parameters"] == 0 and tied["Output head"]["FLOPs per token"] > 0


def test_sizes_read_in_the_largest_fitting_unit_up_to_petabytes():
    assert pv.format_bytes(512) == "512 bytes"
    assert pv.format_bytes(4 * 163_009_536) == "621.83 MB"
    assert pv.format_bytes(1_706_136.12 * 2**20) == "1.63 TB"
    assert pv.format_bytes(3 * 2**50) == "3.00 PB" and pv.format_bytes(2**62) == "4,096.00 PB"
