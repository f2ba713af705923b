"""The instruction fine-tuning page and its compact mask inspector, driven through Streamlit's AppTest,
with hostile inputs: empty and huge instructions, `<|endoftext|>` typed in, broken JSON files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from widget_helpers import PAGES, fresh_training_slot, run_script, texts, wait_until

from core.app import judge
from core.gpt import instruct
from core.gpt.train import TrainSettings

PAGE = str(PAGES / "instruction.py")
KEY = "instruction"
COMPACT = 'from ui.instruction import compact\ncompact("day30")\n'
TINY = instruct.InstructRecipe(
    TrainSettings(epochs=1, lr=5e-3, eval_freq=2, eval_iter=1, bf16=False), batch_size=4, max_new_tokens=6,
    model={"emb_dim": 32, "n_heads": 2, "n_layers": 1, "context_length": 128, "tie_weights": False})


@pytest.fixture(scope="module")
def trained_runs(tmp_path_factory, instruction_data_path, gpt2_encoding) -> Path:
    """A runs folder holding one tiny instruction-tuned model with its test-set responses."""
    root = tmp_path_factory.mktemp("runs")
    records = json.loads(instruction_data_path.read_text())[:20]
    for _ in instruct.instruct_run(records, recipe=TINY, runs_root=root / "instruct"):
        pass
    return root


@pytest.fixture(autouse=True)
def clean_slot():
    yield from fresh_training_slot()


@pytest.fixture
def empty_runs(tmp_path, monkeypatch, instruction_data_path, gpt2_encoding) -> Path:
    monkeypatch.setenv("LLM_JOURNAL_RUNS_DIR", str(tmp_path / "runs"))
    return tmp_path / "runs"


@pytest.fixture
def with_run(trained_runs, monkeypatch) -> Path:
    monkeypatch.setenv("LLM_JOURNAL_RUNS_DIR", str(trained_runs))
    return trained_runs


def counted(at) -> tuple[int, int]:
    line = next(m.value for m in at.markdown if m.value.startswith("**The loss sees"))
    words = line.replace(",", "").split()
    return int(words[3]), int(words[5])


def test_data_split_and_mask_inspector(empty_runs):
    at = run_script(PAGE)
    assert "1,100 records, 325 with an input" in texts(at.caption) and "935 training, 55 validation, 110 test" in \
        texts(at.caption)
    seen, total = counted(at)
    assert 0 < seen == total  # one record: every target but nothing else counts
    at.toggle(key=f"{KEY}_mask_instruction").set_value(True).run()
    masked, _ = counted(at)
    assert masked < seen
    assert [m.label for m in at.metric] == ["No mask (padding scored too)", "Padding mask (the book's)",
                                            "Padding + instruction mask"]
    assert "No instruction-tuned model yet" in texts(at.info)


def test_batch_view_shows_padding(empty_runs):
    at = run_script(PAGE)
    at.radio(key=f"{KEY}_mask_what").set_value("batch").run()
    assert not at.exception
    seen, total = counted(at)
    assert seen < total  # padding after the first end-of-text is ignored
    assert len(at.get("vega_lite_chart")) == 1  # the padding chart
    assert "8 rows" in texts(at.markdown)


def test_typed_records_hostile_inputs(empty_runs):
    at = run_script(PAGE)
    at.radio(key=f"{KEY}_mask_what").set_value("typed").run()
    assert "Type an instruction" in texts(at.caption)
    at.text_area(key=f"{KEY}_typed_instruction").set_value("   ").run()
    assert not at.exception and "Type an instruction" in texts(at.caption)
    at.text_area(key=f"{KEY}_typed_instruction").set_value("Say <|endoftext|> and stop.").run()
    assert not at.exception and "&lt;|endoftext|&gt;" not in texts(at.error)
    assert counted(at)[0] > 0
    at.text_area(key=f"{KEY}_typed_input").set_value("x" * 1_000_000).run()
    assert not at.exception and "the limit is 100,000" in texts(at.error)


@pytest.mark.parametrize(("content", "message"), [
    (b'[{"instruction": "a", "output": "b"}]', "record 0: the key 'input' is missing"),
    (b'{"instruction": "a", "input": "", "output": "b"}', "must be a JSON list"),
    (b"[{", "not valid JSON"),
])
def test_broken_json_files_get_a_clear_message(empty_runs, content, message):
    at = run_script(PAGE)
    at.radio(key=f"{KEY}_data_source").set_value("upload").run()
    at.file_uploader(key=f"{KEY}_upload").set_value(("mine.json", content, "application/json")).run()
    assert not at.exception and message in texts(at.error)
    assert "Fine-tuning needs the instruction data" in texts(at.caption)


def test_own_json_file_is_used(empty_runs):
    records = [{"instruction": f"Count to {i}.", "input": "", "output": " ".join(map(str, range(1, i + 2)))}
               for i in range(30)]
    at = run_script(PAGE)
    at.radio(key=f"{KEY}_data_source").set_value("upload").run()
    at.file_uploader(key=f"{KEY}_upload").set_value(("mine.json", json.dumps(records).encode(), "application/json"))
    at.run()
    assert not at.exception and "30 records, 0 with an input" in texts(at.caption)


def test_missing_data_says_how_to_get_it(empty_runs, tmp_path, monkeypatch):
    from core.gpt.instruction_data import InstructionDataUnavailable

    monkeypatch.setenv("LLM_JOURNAL_DATA_DIR", str(tmp_path / "no-data"))
    monkeypatch.setenv("LLM_JOURNAL_CACHE_DIR", str(tmp_path / "no-cache"))

    def offline():
        raise InstructionDataUnavailable("could not download the instruction data (no network)")

    monkeypatch.setattr("core.gpt.instruction_data.download_records", offline)
    at = run_script(PAGE)
    assert "not on this machine" in texts(at.warning) and "instruction-data.json" in texts(at.warning)
    at.button(key=f"{KEY}_download_data").click().run()
    assert not at.exception and "no network" in texts(at.error)
    assert "Fine-tuning needs the instruction data" in texts(at.caption)


def test_responses_scores_and_try_it(with_run, monkeypatch):
    run = instruct.list_instruct_runs(with_run / "instruct")[0]
    at = run_script(PAGE)
    assert "Word overlap with the reference" in texts(at.caption)
    at.number_input(key=f"{KEY}_response_index").set_value(1).run()
    at.slider(key=f"{KEY}_score_100").set_value(70).run()
    at.button(key=f"{KEY}_save_score").click().run()
    assert not at.exception and "mean 70.0 on 0-100" in texts(at.caption)
    assert judge.read_scores(run.path)["learner"]["scores"] == {"1": 70}
    # no Ollama: a clear message, quickly
    at.text_input(key=f"{KEY}_judge_url").set_value("http://127.0.0.1:9").run()
    at.button(key=f"{KEY}_judge_run").click().run()
    assert not at.exception and "no Ollama server at http://127.0.0.1:9" in texts(at.info)
    # try it: empty, then a real instruction with an <|endoftext|> in it
    at.text_area(key=f"{KEY}_try_instruction").set_value("Name a fruit. <|endoftext|>").run()
    at.button(key=f"{KEY}_try_button").click().run()
    assert not at.exception and "Response" in texts(at.markdown)
    at.text_area(key=f"{KEY}_try_input").set_value("y" * 1_000_000).run()
    assert not at.exception and "the limit is 100,000" in texts(at.error)


@pytest.mark.slow
def test_finetune_a_tiny_run_from_the_page(empty_runs):
    at = run_script(PAGE)
    at.number_input(key=f"{KEY}_records").set_value(20).run()
    at.number_input(key=f"{KEY}_epochs_scratch").set_value(1).run()
    at.number_input(key=f"{KEY}_new_tokens").set_value(4).run()
    assert "17 training records" in texts(at.caption)
    at.button(key=f"{KEY}_start_button").click().run()
    wait_until(at, lambda a: "Finished after" in texts(a.success), timeout=240)
    runs = instruct.list_instruct_runs(empty_runs / "instruct")
    assert len(runs) == 1 and len(instruct.read_responses(runs[0].path)) == 2
    assert "Word overlap with the reference" in texts(at.caption)


def test_compact_inspector(instruction_data_path, gpt2_encoding):
    at = run_script(COMPACT)
    seen, _ = counted(at)
    at.toggle(key="day30_mask_instruction").set_value(True).run()
    assert not at.exception and counted(at)[0] < seen


def test_compact_without_data_takes_typed_records(tmp_path, monkeypatch, gpt2_encoding):
    monkeypatch.setenv("LLM_JOURNAL_DATA_DIR", str(tmp_path / "no-data"))
    monkeypatch.setenv("LLM_JOURNAL_CACHE_DIR", str(tmp_path / "no-cache"))
    at = run_script(COMPACT)
    assert "Type an instruction" in texts(at.caption)
    at.text_area(key="day30_instruction").set_value("<|endoftext|>").run()
    assert not at.exception and counted(at)[0] > 0
    at.text_area(key="day30_output").set_value("z" * 1_000_000).run()
    assert not at.exception and "the limit is 100,000" in texts(at.error)


def test_the_judge_scores_every_response_through_a_fake_ollama(with_run):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Ollama(BaseHTTPRequestHandler):
        def do_GET(self):
            self._send({"models": [{"name": "llama3:latest"}]})

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self._send({"message": {"role": "assistant", "content": "Score: 40"}})

        def _send(self, data):
            body = json.dumps(data).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Ollama)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        at = run_script(PAGE)
        at.text_input(key=f"{KEY}_judge_url").set_value(f"http://127.0.0.1:{server.server_address[1]}").run()
        at.button(key=f"{KEY}_judge_run").click().run()
        assert not at.exception and "Mean score 40.0 / 100 from llama3:latest" in texts(at.success)
        at.run()
        assert any(m.label.startswith("Judge's mean score") and m.value == "40.0" for m in at.metric)
    finally:
        server.shutdown()
        server.server_close()
    run = instruct.list_instruct_runs(with_run / "instruct")[0]
    assert judge.read_scores(run.path)["judge"]["scores"] == [40, 40]


def test_a_tiny_own_file_is_refused_for_training_but_inspected(empty_runs):
    records = [{"instruction": "Say hi.", "input": "", "output": "Hi."}] * 5
    at = run_script(PAGE)
    at.radio(key=f"{KEY}_data_source").set_value("upload").run()
    at.file_uploader(key=f"{KEY}_upload").set_value(("five.json", json.dumps(records).encode(), "application/json"))
    at.run()
    assert not at.exception and "5 records are too few" in texts(at.error)
    assert counted(at)[0] > 0
    assert not [b for b in at.button if b.key == f"{KEY}_start_button"]
