"""The tokenizer explorer page and its compact journal version, driven through Streamlit's AppTest."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import core.gpt.tokenizers
from core.gpt.tokenizers import MAX_TEXT_CHARS

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "tokenizer.py")
COMPACT = """
from ui.tokenizer import compact
compact("day05")
compact("day06")
"""
HOSTILE = {
    "empty": "",
    "whitespace": " \n\t ",
    "emoji-zwj": "👩‍👩‍👧‍👦 family 🏳️‍🌈",
    "cjk": "機械学習は楽しい。大型語言模型",
    "combining": "e\u0301 a\u0308 n\u0303 Z\u0351\u0352\u0353",
    "control": "bell\x07 nul\x00 esc\x1b[31m del\x7f cr\r",
    "endoftext": "<|endoftext|><|endoftext|> <|unk|> <|endoftext",
    "html": "<script>alert(1)</script> <b>bold</b> & \"quotes\"",
    "rtl": "\u202eevil\u202c שלום مرحبا",
}


def run_page() -> AppTest:
    return AppTest.from_file(PAGE, default_timeout=120).run()


@pytest.fixture
def page(gpt2_encoding) -> AppTest:
    at = run_page()
    assert not at.exception
    return at


def chips(at: AppTest) -> str:
    return at.html[0].value


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_default_text_is_the_books_example(page):
    assert metric(page, "Characters") == "81"
    assert metric(page, "Tokens") == "20"
    html = chips(page)
    for token_id in (15496, 50256, 34680, 27271):
        assert f">{token_id}</sub>" in html
    assert "␣terr" in html and "dashed" in html  # the special token's chip
    assert any("exactly the text" in s.value for s in page.success)
    assert page.get("vega_lite_chart"), "the embedding heatmaps"


def test_special_token_toggle(page):
    page.toggle(key="tok_special").set_value(False).run()
    assert not page.exception
    assert ">50256</sub>" not in chips(page)
    assert int(metric(page, "Tokens")) > 20


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_text_never_breaks_the_page(page, name):
    page.text_area(key="tok_text").set_value(HOSTILE[name]).run()
    assert not page.exception
    assert not page.error
    if HOSTILE[name]:
        assert metric(page, "Characters") == f"{len(HOSTILE[name]):,}"
        assert any("exactly the text" in s.value for s in page.success)
    else:
        assert any("Type or paste" in i.value for i in page.info)


def test_html_in_the_text_is_escaped(page):
    page.text_area(key="tok_text").set_value(HOSTILE["html"]).run()
    html = chips(page)
    assert "<script" not in html and "<b>" not in html
    assert "&lt;" in html and "&amp;" in html


def test_a_one_megabyte_paste_is_cut_with_a_message(page):
    page.text_area(key="tok_text").set_value("All work and no play. " * 50_000).run()
    assert not page.exception
    assert any(f"only the first {MAX_TEXT_CHARS:,}" in w.value for w in page.warning)
    assert metric(page, "Characters") == f"{MAX_TEXT_CHARS:,}"
    assert any("Showing the first" in c.value for c in page.caption)


def test_simple_tokenizers_show_unknown_words(page):
    page.radio(key="tok_tokenizer").set_value("Simple tokenizer V1").run()
    assert not page.exception
    assert any("someunknownPlace" in e.value and "not in the vocabulary" in e.value for e in page.error)
    page.radio(key="tok_tokenizer").set_value("Simple tokenizer V2").run()
    assert "&lt;|unk|&gt;" in chips(page)
    assert any("<|unk|>" in i.value and "someunknownPlace" in i.value for i in page.info)


def test_trained_bpe_and_its_merges(page):
    page.radio(key="tok_tokenizer").set_value("BPE trained here").run()
    page.slider(key="tok_vocab").set_value(300).run()
    assert not page.exception
    merges = next(d.value for d in page.dataframe if "new id" in d.value.columns)
    assert list(merges["new id"][:3]) == [256, 257, 258]
    assert len(merges) == 44  # 300 - 256 merges, all shown
    assert any("exactly the text" in s.value for s in page.success)


def test_comparison_table_covers_every_tokenizer(page):
    table = next(d.value for d in page.dataframe if "tokenizer" in d.value.columns)
    rows = dict(zip(table["tokenizer"], table["result"], strict=False))
    assert rows["GPT-2 BPE (tiktoken)"] == "exact round trip"
    assert rows["Simple tokenizer V1"].startswith("fails: 3 unknown")
    assert rows["Simple tokenizer V2"] == "loses information"


def test_windows_and_embeddings_follow_the_sliders(page):
    page.slider(key="tok_max_length").set_value(6).run()
    page.slider(key="tok_stride").set_value(3).run()
    windows = next(d.value for d in page.dataframe if "target ids" in d.value.columns)
    assert windows["input ids"][0] == str([15496, 11, 466, 345, 588, 8887])
    assert windows["target ids"][0] == str([11, 466, 345, 588, 8887, 30])
    assert windows["starts at token"][1] == 3
    page.slider(key="tok_max_length").set_value(32).run()
    assert not page.exception
    assert any("needs at least 33" in w.value for w in page.warning)


def test_journal_corpus_missing_is_explained(page, tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_JOURNAL_DIR", str(tmp_path))
    page.radio(key="tok_tokenizer").set_value("BPE trained here").run()
    page.selectbox(key="tok_corpus").set_value("journal").run()
    assert not page.exception
    assert any("no entries yet" in e.value for e in page.error)


@pytest.fixture
def no_gpt2_vocab(monkeypatch):
    def offline(name):
        raise OSError("no network")

    core.gpt.tokenizers.gpt2_tokenizer.cache_clear()
    monkeypatch.setattr(core.gpt.tokenizers.tiktoken, "get_encoding", offline)
    yield
    core.gpt.tokenizers.gpt2_tokenizer.cache_clear()


def test_without_gpt2_vocabulary_the_others_still_work(no_gpt2_vocab):
    at = run_page()
    assert not at.exception
    assert any("TIKTOKEN_CACHE_DIR" in w.value for w in at.warning)
    assert "GPT-2 BPE (tiktoken)" not in at.radio(key="tok_tokenizer").options
    assert at.radio(key="tok_tokenizer").value == "BPE trained here"
    assert any("exactly the text" in s.value for s in at.success)
    assert any("not available here" in str(v) for v in next(
        d.value for d in at.dataframe if "tokenizer" in d.value.columns)["result"])


def test_compact_versions_are_independent(gpt2_encoding):
    at = AppTest.from_string(COMPACT, default_timeout=60).run()
    assert not at.exception
    assert len(at.html) == 2
    at.text_area(key="day05_text").set_value("👩‍👩‍👧 <|endoftext|>").run()
    assert not at.exception
    assert ">50256</sub>" in at.html[0].value and ">50256</sub>" not in at.html[1].value
    at.text_area(key="day06_text").set_value("").run()
    assert any("Type some text" in i.value for i in at.info)
    at.text_area(key="day06_text").set_value("x" * 1_000_000).run()
    assert any("only the first" in w.value for w in at.warning)


def test_compact_without_gpt2_falls_back_to_a_trained_bpe(no_gpt2_vocab, verdict_text):
    at = AppTest.from_string(COMPACT, default_timeout=60).run()
    assert not at.exception
    assert any("BPE trained here" in c.value for c in at.caption)


def test_missing_verdict_is_offered_as_a_download(gpt2_encoding, tmp_path, monkeypatch):
    import core.app.corpora

    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setenv("LLM_JOURNAL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LLM_JOURNAL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(core.app.corpora.urllib.request, "urlopen", offline)
    at = run_page()
    assert not at.exception
    assert any("not on this machine yet" in w.value for w in at.warning)
    at.button(key="tok_get_the-verdict").click().run()
    assert not at.exception
    assert any("Could not download" in e.value for e in at.error)
    at.selectbox(key="tok_corpus").set_value("journal").run()
    at.radio(key="tok_tokenizer").set_value("BPE trained here").run()
    assert not at.exception and not at.error
    assert any("exactly the text" in s.value for s in at.success)


def test_every_registered_corpus_is_offered_by_both_text_widgets():
    from core.app.corpora import CORPORA
    from ui import pretraining, tokenizer

    assert set(CORPORA) <= set(tokenizer.CORPUS_NAMES) and set(CORPORA) <= set(pretraining.CORPUS_LABELS)


def test_a_vocabulary_of_256_says_it_has_no_merges(page):
    page.radio(key="tok_tokenizer").set_value("BPE trained here").run()
    page.slider(key="tok_vocab").set_value(256).run()
    assert not page.exception
    assert any("bytes alone" in i.value and "no merges" in i.value for i in page.info)
    assert not any("new id" in d.value.columns for d in page.dataframe)  # no empty table


def test_wide_embedding_heatmaps_wrap_instead_of_overflowing(page):
    from ui.tokenizer import heatmaps_per_row

    assert heatmaps_per_row(4, 10) == 3 and heatmaps_per_row(12, 10) == 1
    page.slider(key="tok_max_length").set_value(20).run()
    page.slider(key="tok_emb_dim").set_value(12).run()
    assert not page.exception and len(page.get("vega_lite_chart")) >= 3
