"""The judge (book section 7.8) against a fake Ollama server on 127.0.0.1, a closed port, and the overlap proxy."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from core.app import judge
from core.app.judge import JudgeUnavailable
from core.atomic import leftover_temporaries
from core.errors import UserError

ENTRY = {"instruction": "Rewrite the sentence in passive voice.", "input": "The cat chased the mouse.",
         "output": "The mouse was chased by the cat."}


class FakeOllama(BaseHTTPRequestHandler):
    replies: list[str] = []
    prompts: list[str] = []

    def do_GET(self):
        if self.path == "/api/tags":
            self._send({"models": [{"name": "llama3:latest"}, {"name": "phi3:mini"}]})
        else:
            self.send_error(404)

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path != "/api/chat" or body.get("stream") is not False:
            self.send_error(400)
            return
        type(self).prompts.append(body["messages"][0]["content"])
        self._send({"message": {"role": "assistant", "content": type(self).replies.pop(0)}, "done": True})

    def _send(self, data):
        payload = json.dumps(data).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_ollama():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOllama)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeOllama.replies, FakeOllama.prompts = [], []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_closed_port_answers_quickly_and_clearly():
    url = f"http://127.0.0.1:{closed_port()}"
    began = time.monotonic()
    with pytest.raises(JudgeUnavailable, match=f"no Ollama server at {url}"):
        judge.check_judge("llama3", url)
    assert time.monotonic() - began < 2.5


def test_silent_server_times_out_within_the_detection_limit():
    with socket.socket() as listener:  # accepts connections, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        began = time.monotonic()
        with pytest.raises(JudgeUnavailable, match="no Ollama server"):
            judge.judge_models(url, timeout=1.0)
        assert time.monotonic() - began < 2.5


def test_finds_the_model_by_short_name(fake_ollama):
    assert judge.judge_models(fake_ollama) == ["llama3:latest", "phi3:mini"]
    assert judge.check_judge("llama3", fake_ollama) == "llama3:latest"
    with pytest.raises(JudgeUnavailable, match="ollama pull mistral"):
        judge.check_judge("mistral", fake_ollama)
    with pytest.raises(UserError):
        judge.check_judge("  ", fake_ollama)


def test_judges_with_the_book_prompt_and_parses_scores(fake_ollama):
    FakeOllama.replies = ["85", "Score: 40/100", "I cannot score this."]
    records = [{**ENTRY, "model_response": r} for r in ("The mouse was chased by the cat.", "A cat.", "?")]
    judged = list(judge.judge_responses(records, "llama3:latest", fake_ollama))
    assert [j.score for j in judged] == [85, 40, None]
    assert judge.mean_score([j.score for j in judged]) == pytest.approx(62.5)
    assert FakeOllama.prompts[0] == (
        "Given the input `Below is an instruction that describes a task. Write a response that appropriately "
        "completes the request.\n\n### Instruction:\nRewrite the sentence in passive voice.\n\n### Input:\n"
        "The cat chased the mouse.` and correct output `The mouse was chased by the cat.`, score the model "
        "response `The mouse was chased by the cat.` on a scale from 0 to 100, where 100 is the best score. "
        "Respond with the integer number only."
    )


@pytest.mark.parametrize(("reply", "score"), [
    ("90", 90), ("**75**", 75), ("Score: 100", 100), ("I'd say 62.5 out of 100", 62), ("0", 0),
    ("1000", None), ("", None), ("no idea", None), ("150 is too high; 80", 80),
])
def test_parse_score(reply, score):
    assert judge.parse_score(reply) == score


def test_overlap_score_is_lcs_f1():
    assert judge.overlap_score("The mouse was chased by the cat.", "the mouse was chased by the cat") == 100
    assert judge.overlap_score("", "anything") == 0
    assert judge.overlap_score("dog", "cat") == 0
    # 3 common words in order out of 4 and 6: P = 3/4, R = 1/2, F1 = 0.6
    assert judge.overlap_score("the cat sat down", "the big cat sat on mats") == pytest.approx(60)
    assert judge.overlap_score("cat the", "the cat") == pytest.approx(50)  # order matters


def test_learner_scores_saved_atomically(tmp_path):
    judge.save_learner_score(tmp_path, 3, 80, "0-100")
    judge.save_learner_score(tmp_path, 5, 20, "0-100")
    assert judge.read_scores(tmp_path)["learner"] == {"scale": "0-100", "scores": {"3": 80, "5": 20}}
    judge.save_learner_score(tmp_path, 1, 4, "1-5")  # a new scale starts a new sheet
    assert judge.read_scores(tmp_path)["learner"] == {"scale": "1-5", "scores": {"1": 4}}
    assert judge.to_percent(4, "1-5") == 75
    for bad in (6, 0, 2.5, True):
        with pytest.raises(UserError):
            judge.save_learner_score(tmp_path, 1, bad, "1-5")
    assert not leftover_temporaries(tmp_path)


def test_damaged_scores_file_is_a_clear_error(tmp_path):
    (tmp_path / judge.SCORES_FILE).write_text("{not json")
    with pytest.raises(UserError, match="damaged"):
        judge.read_scores(tmp_path)
