"""The parameter charts page and its compact journal version, driven through Streamlit's AppTest."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit import dataframe_util
from streamlit.testing.v1 import AppTest

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "parameters.py")
COMPACT = """
from ui.parameters import compact
compact("day14", state={"note": "day14"})
compact("day15")
"""


@pytest.fixture(scope="module")
def fresh() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception
    return at


@pytest.fixture
def page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception
    return at


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def held(at: AppTest) -> str:
    """The parameter count of the model as configured, from the line under the totals."""
    caption = next(c.value for c in at.caption if " holds **" in c.value)
    return caption.split("**")[1]


def table(at: AppTest, column: str) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if column in d.value.columns)


def chart_data(at: AppTest, index: int) -> pd.DataFrame:
    element = at.get("vega_lite_chart")[index]
    return dataframe_util.convert_arrow_bytes_to_pandas_df(element.proto.datasets[0].data.data)


def test_gpt2_small_matches_the_book(fresh):
    assert held(fresh) == "163,009,536"
    assert metric(fresh, "Parameters without weight tying") == "163,009,536"
    assert metric(fresh, "With weight tying") == "124,412,160"
    assert metric(fresh, "Memory in fp32") == "621.83 MB"
    assert metric(fresh, "Memory in bf16") == "310.92 MB"
    components = table(fresh, "per block").set_index("component")
    assert components.loc["Token embedding", "parameters"] == "38,597,376"
    assert components.loc["Feed-forward", "parameters"] == "56,669,184"
    assert components.loc["Attention", "per block"] == "2,360,064"
    assert components.loc["Feed-forward", "per block"] == "4,722,432"
    assert components.loc["Output head", "share"] == "23.68%"


def test_day14_note_is_beside_the_numbers(fresh):
    note = next(i.value for i in fresh.info if "Day 14" in i.value)
    assert "~1.4 M" in note and "**824,832**" in note and "786,432" in note and "38,400" in note


def test_donut_and_bars_carry_the_exact_counts(fresh):
    donut = chart_data(fresh, 0)
    assert donut["parameters"].sum() == 163_009_536
    assert list(donut["component"]) == ["Token embedding", "Positional embedding", "Attention", "Feed-forward",
                                        "LayerNorms", "Output head"]
    sizes = chart_data(fresh, 1)
    totals = sizes.groupby("model")["parameters"].sum()
    assert totals["gpt2-xl"] == 1_637_792_000 and totals["gpt2-medium"] == 406_212_608


def test_weights_versus_compute(fresh):
    rows = table(fresh, "FLOP share").set_index("part")
    assert rows.loc["Attention", "parameter share"] == "17.4%"
    assert float(rows.loc["Attention", "FLOP share"].rstrip("%")) > 17.4
    fresh.slider(key="par_context_1024").set_value(1).run()
    assert not fresh.exception
    short = table(fresh, "FLOP share").set_index("part")
    def share(table):
        return float(table.loc["Attention", "FLOP share"].rstrip("%"))

    assert share(short) < share(rows)


def test_tying_and_qkv_bias(page):
    page.toggle(key="par_tied").set_value(True).run()
    assert held(page) == "124,412,160"
    assert metric(page, "Memory in fp32") == "474.59 MB" and metric(page, "Memory in bf16") == "237.30 MB"
    assert "Output head" not in list(table(page, "per block")["component"])
    assert round(chart_data(page, 0)["share"].sum(), 6) == 1.0
    page.toggle(key="par_qkv_bias").set_value(True).run()
    assert held(page) == f"{124_412_160 + 12 * 3 * 768:,}"


def test_xl_and_a_custom_model(page):
    page.selectbox(key="par_preset").set_value("gpt2-xl").run()
    assert held(page) == "1,637,792,000"
    page.toggle(key="par_custom").set_value(True).run()
    page.number_input(key="par_n_layers_gpt2-xl").set_value(2).run()
    assert not page.exception
    sizes = chart_data(page, 1)
    assert "your model" in set(sizes["model"])
    assert held(page) == f"{sizes[sizes['model'] == 'your model']['parameters'].sum():,}"


@pytest.mark.parametrize(
    "field, value, message",
    [("n_heads", 7, "must be divisible by n_heads"), ("emb_dim", 770, "must be divisible by n_heads")],
)
def test_impossible_dimensions_get_a_message(page, field, value, message):
    page.toggle(key="par_custom").set_value(True).run()
    page.number_input(key=f"par_{field}_gpt2-small").set_value(value).run()
    assert not page.exception
    assert any(message in e.value for e in page.error)
    assert not page.metric  # nothing computed from a config that cannot exist


def test_extreme_but_valid_dimensions_are_counted(page):
    page.toggle(key="par_custom").set_value(True).run()
    for field, value in (("n_layers", 128), ("emb_dim", 16_384), ("n_heads", 128), ("vocab_size", 1_000_000),
                         ("context_length", 131_072)):
        page.number_input(key=f"par_{field}_gpt2-small").set_value(value).run()
    assert not page.exception and not page.error
    assert int(held(page).replace(",", "")) > 400_000_000_000
    assert metric(page, "Memory in fp32").endswith(" TB") and "," not in metric(page, "Memory in fp32")


def test_a_context_of_one_token_has_no_slider_and_no_error(page):
    page.toggle(key="par_custom").set_value(True).run()
    page.number_input(key="par_context_length_gpt2-small").set_value(1).run()
    assert not page.exception and not page.error
    assert any("context of 1 token" in c.value for c in page.caption)
    assert len(chart_data(page, 2)) == 6  # the weights-versus-compute bars are still drawn


def test_compact_versions_are_independent():
    at = AppTest.from_string(COMPACT, default_timeout=120).run()
    assert not at.exception
    assert [m.value for m in at.metric] == ["163,009,536", "163,009,536"]
    assert sum("824,832" in i.value for i in at.info) == 1  # the day-14 note only where the entry asks for it
    at.selectbox(key="day15_preset").set_value("gpt2-xl").run()
    assert [m.value for m in at.metric] == ["163,009,536", "1,637,792,000"]
    assert sum("824,832" in i.value for i in at.info) == 1
    at.selectbox(key="day14_preset").set_value("gpt2-medium").run()
    assert not any("824,832" in i.value for i in at.info)  # and only for GPT-2 small
