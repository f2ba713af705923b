"""The one training loop with the pretraining task, whole runs with checkpoints, and the command line (chapter 5)."""

from __future__ import annotations

import contextlib
import math
import os
import signal
import threading
from dataclasses import dataclass, replace

import pytest
import torch
import torch.nn.functional as F

import core.gpt.config
import core.gpt.pretrain
from core.gpt.checkpoint import list_runs, load_model, read_checkpoint
from core.gpt.data import TextTooShortError, create_dataloader
from core.gpt.events import (
    DoneEvent,
    EvalEvent,
    SampleEvent,
    StartEvent,
    StepEvent,
    from_dict,
    perplexity,
    register,
    to_dict,
)
from core.gpt.model import GPTModel
from core.gpt.pretrain import (
    CorpusError,
    calc_loss_batch,
    calc_loss_loader,
    main,
    make_loaders,
    pretrain_run,
    pretraining_task,
    read_corpus,
)
from core.gpt.train import Task, TrainingDiverged, TrainSettings, evaluation_steps, learning_rate, train

# GPT-2's vocabulary with a very small body: a training step takes milliseconds.
SMALL = {"vocab_size": 50257, "context_length": 32, "emb_dim": 32, "n_heads": 4, "n_layers": 2, "drop_rate": 0.1}
FAST = TrainSettings(epochs=1, lr=2e-3, eval_freq=4, eval_iter=2, seed=5)


@pytest.fixture(scope="module")
def verdict_ids(verdict_text, gpt2_encoding):
    return gpt2_encoding.encode(verdict_text)


def loaders(ids, context=32, batch=4):
    return make_loaders(ids, context, batch, seed=5)


def run_train(ids, settings=FAST, n_tokens=1200, sample=None, **kwargs):
    torch.manual_seed(settings.seed)
    model = GPTModel(SMALL)
    train_loader, val_loader = loaders(ids[:n_tokens])
    task = pretraining_task(train_loader, val_loader, sample)
    return model, list(train(model, train_loader, task, settings, **kwargs))


def train_on(model, ids, settings=FAST, **kwargs):
    train_loader, val_loader = loaders(ids)
    return train(model, train_loader, pretraining_task(train_loader, val_loader), settings, **kwargs)


def test_batch_loss_is_cross_entropy_over_every_position():
    torch.manual_seed(0)
    model = GPTModel({**SMALL, "vocab_size": 100, "drop_rate": 0.0}).eval()
    inputs, targets = torch.randint(0, 100, (2, 6)), torch.randint(0, 100, (2, 6))
    logits = model(inputs)
    expected = F.cross_entropy(logits.reshape(-1, 100), targets.reshape(-1))
    assert torch.allclose(calc_loss_batch(inputs, targets, model), expected)


def test_loader_loss_averages_a_capped_number_of_batches():
    torch.manual_seed(0)
    model = GPTModel({**SMALL, "vocab_size": 100, "drop_rate": 0.0}).eval()
    loader = create_dataloader(list(range(100)) * 3, batch_size=2, max_length=8, stride=8, shuffle=False)
    batches = list(loader)
    with torch.no_grad():
        first_two = [calc_loss_batch(x, y, model).item() for x, y in batches[:2]]
        assert calc_loss_loader(loader, model, num_batches=2) == pytest.approx(sum(first_two) / 2)
        assert calc_loss_loader(loader, model, num_batches=10_000) == pytest.approx(calc_loss_loader(loader, model))
    with pytest.raises(ValueError, match="no batches"):
        calc_loss_loader([], model)


def test_perplexity_is_exp_of_the_loss_and_never_overflows():
    assert perplexity(math.log(50257)) == pytest.approx(50257)
    assert perplexity(10_000.0) == math.inf


def test_loss_falls_and_events_arrive_in_order(verdict_ids):
    model, events = run_train(verdict_ids, TrainSettings(epochs=2, lr=1e-2, eval_freq=4, eval_iter=2, seed=5),
                              sample=lambda m: "sample text")
    steps = [e for e in events if isinstance(e, StepEvent)]
    evals = [e for e in events if isinstance(e, EvalEvent)]
    assert isinstance(events[0], EvalEvent) and events[0].step == 0  # the untrained model, before any update
    assert isinstance(events[1], StepEvent) and events[1].step == 1
    assert isinstance(events[2], EvalEvent) and events[2].step == 1
    assert [e.step for e in steps] == list(range(1, len(steps) + 1))
    per_epoch = len(steps) // 2
    assert [e.step for e in evals] == sorted({0, *range(1, len(steps) + 1, 4), len(steps)})
    assert [e.epoch for e in events if isinstance(e, SampleEvent)] == [1, 2]
    first_sample = next(i for i, e in enumerate(events) if isinstance(e, SampleEvent))
    assert events[first_sample].text == "sample text"
    assert [e.step for e in events[:first_sample] if isinstance(e, StepEvent)][-1] == per_epoch
    assert steps[-1].tokens_seen == len(steps) * 4 * 32 and steps[0].tokens_per_s > 0
    assert isinstance(events[-1], DoneEvent) and events[-1].reason == "finished" and events[-1].step == len(steps)
    assert evals[-1].train_loss < evals[0].train_loss - 1.0
    assert evals[-1].val_loss < evals[0].val_loss
    assert evals[-1].perplexity == pytest.approx(math.exp(evals[-1].val_loss))


def test_seeded_runs_repeat_exactly_on_cpu(verdict_ids):
    settings = TrainSettings(epochs=1, lr=2e-3, eval_freq=2, eval_iter=1, seed=5)
    _, first = run_train(verdict_ids, settings, n_tokens=700)
    _, second = run_train(verdict_ids, settings, n_tokens=700)
    losses = [[(type(e), e.train_loss) for e in events if isinstance(e, (StepEvent, EvalEvent))]
              for events in (first, second)]
    assert len(losses[0]) >= 6 and losses[0] == losses[1]
    _, other = run_train(verdict_ids, replace(settings, seed=6), n_tokens=700)
    assert [(type(e), e.train_loss) for e in other if isinstance(e, (StepEvent, EvalEvent))] != losses[0]


def test_stop_ends_the_loop_before_the_next_step(verdict_ids):
    stop = threading.Event()
    torch.manual_seed(0)
    model = GPTModel(SMALL)
    events = train_on(model, verdict_ids[:2000], stop=stop)
    assert isinstance(next(events), EvalEvent) and isinstance(next(events), StepEvent)
    stop.set()
    rest = list(events)
    assert not any(isinstance(e, StepEvent) for e in rest)
    assert isinstance(rest[-1], DoneEvent) and rest[-1].reason == "stopped" and rest[-1].step == 1


def test_warmup_then_cosine_decay():
    s = TrainSettings(lr=1e-3, warmup_steps=4, min_lr=1e-4)
    lrs = [learning_rate(s, step, total_steps=20) for step in range(20)]
    assert lrs[:4] == pytest.approx([2.5e-4, 5e-4, 7.5e-4, 1e-3])
    assert lrs[4] == pytest.approx(1e-3) and lrs[-1] == pytest.approx(1e-4, abs=2e-5)
    assert all(a >= b for a, b in zip(lrs[4:], lrs[5:], strict=False))
    assert learning_rate(TrainSettings(lr=3e-4), 17, 20) == 3e-4


def test_the_loop_applies_the_schedule_and_gradient_clipping(verdict_ids, monkeypatch):
    clipped = []
    real_clip = torch.nn.utils.clip_grad_norm_
    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", lambda p, n: clipped.append(n) or real_clip(p, n))
    settings = TrainSettings(epochs=1, lr=1e-3, warmup_steps=2, min_lr=0.0, grad_clip=0.5, eval_freq=100, eval_iter=1)
    _, events = run_train(verdict_ids, settings)
    steps = [e for e in events if isinstance(e, StepEvent)]
    assert [e.lr for e in steps[:2]] == pytest.approx([5e-4, 1e-3])
    assert steps[-1].lr < 1e-3
    assert clipped == [0.5] * len(steps)


def test_a_diverging_loss_raises_a_clear_error(verdict_ids):
    torch.manual_seed(0)
    model = GPTModel(SMALL)
    with torch.no_grad():
        model.out_head.weight[0, 0] = float("nan")
    with pytest.raises(TrainingDiverged, match="lower the learning rate"):
        list(train_on(model, verdict_ids[:2000]))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"epochs": 0}, "epochs must be at least 1"),
        ({"epochs": 1.5}, "epochs"),
        ({"lr": 0}, "lr"),
        ({"lr": float("inf")}, "lr"),
        ({"weight_decay": -1}, "weight_decay"),
        ({"eval_freq": 0}, "eval_freq"),
        ({"eval_iter": 0}, "eval_iter"),
        ({"warmup_steps": -1}, "warmup_steps"),
        ({"min_lr": 1.0}, "min_lr"),
        ({"grad_clip": 0}, "grad_clip"),
        ({"seed": "a"}, "seed"),
    ],
)
def test_settings_out_of_range_raise_value_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainSettings(**kwargs)


def test_read_corpus_names_the_file_and_the_bad_byte(tmp_path):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\u00e9 au lait".encode("utf-8") + b" na\xefve")
    with pytest.raises(CorpusError, match=r"latin1\.txt is not UTF-8 text: byte 16 is 0xef"):
        read_corpus(bad)
    with pytest.raises(CorpusError, match="does not exist"):
        read_corpus(tmp_path / "missing.txt")
    (tmp_path / "blank.txt").write_text("  \n")
    with pytest.raises(CorpusError, match="no text"):
        read_corpus(tmp_path / "blank.txt")
    with pytest.raises(CorpusError, match="cannot read"):
        read_corpus(tmp_path)
    (tmp_path / "bom.txt").write_bytes(b"\xef\xbb\xbfhello")
    assert read_corpus(tmp_path / "bom.txt") == "hello"
    with pytest.raises(CorpusError, match="limit"):
        read_corpus(tmp_path / "bom.txt", max_bytes=4)


def test_a_corpus_shorter_than_a_window_says_so():
    with pytest.raises(TextTooShortError, match=r"validation part \(10%\) has 5, but one window needs 33"):
        make_loaders(list(range(50)), 32, 2)
    with pytest.raises(TextTooShortError, match="training part"):
        make_loaders(list(range(50)), 32, 2, train_ratio=0.1)


def test_pretrain_run_saves_a_checkpoint_when_finished(verdict_text, gpt2_encoding, tmp_path):
    events = list(pretrain_run(verdict_text[:6000], SMALL, FAST, batch_size=4, runs_root=tmp_path, sample_tokens=5))
    start, done = events[0], events[-1]
    assert isinstance(start, StartEvent) and start.total_steps == start.steps_per_epoch
    assert isinstance(done, DoneEvent) and done.reason == "finished"
    assert sum(isinstance(e, SampleEvent) for e in events) == 1
    model, checkpoint = load_model(done.checkpoint)
    assert checkpoint.run_id == start.run_id and checkpoint.status == "finished"
    assert [from_dict(d) for d in checkpoint.history] == [e for e in events[1:-1]] + [
        DoneEvent(**{**done.__dict__, "checkpoint": None})
    ]
    assert checkpoint.settings["batch_size"] == 4 and checkpoint.settings["lr"] == FAST.lr
    assert checkpoint.progress == {"step": done.step, "epoch": 1, "tokens_seen": done.tokens_seen}
    assert checkpoint.has_optimizer and model.cfg == {**SMALL, "qkv_bias": False, "tie_weights": False}


def test_stop_saves_a_complete_checkpoint_and_resume_continues_it(verdict_text, gpt2_encoding, tmp_path):
    stop = threading.Event()
    settings = TrainSettings(epochs=2, lr=2e-3, eval_freq=100, eval_iter=1)
    events = []
    for event in pretrain_run(verdict_text[:6000], SMALL, settings, batch_size=4, runs_root=tmp_path,
                              stop=stop, sample_prompt=None):
        events.append(event)
        if isinstance(event, StepEvent) and event.step == 3:
            stop.set()
    done = events[-1]
    assert done.reason == "stopped" and done.step == 3
    stopped = read_checkpoint(done.checkpoint)
    assert stopped.status == "stopped" and current_run(tmp_path) == stopped.run_id

    resumed = list(pretrain_run(verdict_text[:6000], "tiny", settings, batch_size=4, runs_root=tmp_path,
                                resume_from=done.checkpoint, sample_prompt=None))
    assert resumed[0].resumed_from == stopped.run_id and resumed[0].config == stopped.config
    steps = [e.step for e in resumed if isinstance(e, StepEvent)]
    assert steps[0] == 4 and resumed[-1].epoch == 3  # epochs 2-3 after the stopped epoch 1
    final = read_checkpoint(resumed[-1].checkpoint)
    assert final.meta["resumed_from"] == stopped.run_id
    assert [d["step"] for d in final.history if d["type"] == "step"] == [1, 2, 3] + steps
    assert current_run(tmp_path) == final.run_id != stopped.run_id


def current_run(root):
    return list_runs(root)[0].run_id


def test_pretrain_run_refuses_bad_input_before_training(tmp_path, gpt2_encoding):
    with pytest.raises(ValueError, match="empty"):
        next(pretrain_run("   ", SMALL, FAST, runs_root=tmp_path))
    with pytest.raises(TextTooShortError, match="too short"):
        next(pretrain_run("Only a few words.", SMALL, FAST, runs_root=tmp_path))
    with pytest.raises(ValueError, match="unknown preset"):
        next(pretrain_run("text " * 500, "huge", FAST, runs_root=tmp_path))
    with pytest.raises(ValueError, match="batch_size"):
        next(pretrain_run("text " * 500, SMALL, FAST, batch_size=0, runs_root=tmp_path))
    assert list_runs(tmp_path) == []


def test_command_line_trains_and_reports(verdict_text, gpt2_encoding, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(core.gpt.config.PRESETS, "test-small", SMALL)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(verdict_text[:6000], encoding="utf-8")
    runs = tmp_path / "runs"
    heap_policy = []

    @contextlib.contextmanager
    def recorded_policy():
        heap_policy.append("set")
        yield
        heap_policy.append("restored")

    monkeypatch.setattr(core.gpt.pretrain, "heap_for_large_tensors", recorded_policy)
    code = main(["--corpus", str(corpus), "--preset", "test-small", "--epochs", "1", "--batch-size", "4",
                 "--eval-freq", "3", "--eval-iter", "1", "--runs-dir", str(runs), "--no-optimizer-state"])
    out = capsys.readouterr().out
    assert code == 0 and heap_policy == ["set", "restored"]  # the command line owns its process's memory policy
    assert "Ep 1 (Step 000001): Train loss" in out and "Ep 1 sample: Every effort moves you" in out
    assert "finished after" in out and "checkpoint saved in" in out
    assert [r.has_optimizer for r in list_runs(runs)] == [False]


def test_command_line_reports_bad_input_without_a_traceback(tmp_path, capsys):
    corpus = tmp_path / "bad.txt"
    corpus.write_bytes(b"ok \x80")
    assert main(["--corpus", str(corpus)]) == 2
    assert "bad.txt is not UTF-8 text: byte 3" in capsys.readouterr().err
    corpus.write_text("fine text " * 100)
    assert main(["--corpus", str(corpus), "--epochs", "0"]) == 2
    assert "epochs must be at least 1" in capsys.readouterr().err


def test_ctrl_c_on_the_command_line_stops_after_the_step_and_saves(
    verdict_text, gpt2_encoding, tmp_path, monkeypatch, capsys
):
    monkeypatch.setitem(core.gpt.config.PRESETS, "test-small", SMALL)
    real_run = core.gpt.pretrain.pretrain_run

    def interrupted_after_first_step(*args, **kwargs):
        for event in real_run(*args, **kwargs):
            if isinstance(event, StepEvent) and event.step == 1:
                os.kill(os.getpid(), signal.SIGINT)
            yield event

    monkeypatch.setattr(core.gpt.pretrain, "pretrain_run", interrupted_after_first_step)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(verdict_text[:6000], encoding="utf-8")
    handler_before = signal.getsignal(signal.SIGINT)
    code = main(["--corpus", str(corpus), "--preset", "test-small", "--runs-dir", str(tmp_path / "runs")])
    assert code == 0 and signal.getsignal(signal.SIGINT) is handler_before
    assert "stopped after 1 step," in capsys.readouterr().out
    assert [(r.status, r.progress["step"]) for r in list_runs(tmp_path / "runs")] == [("stopped", 1)]


def test_the_evaluation_schedule_is_before_any_step_the_first_every_eval_freq_and_the_last():
    assert evaluation_steps(12, 3) == [0, 1, 4, 7, 10, 12]
    assert evaluation_steps(10, 3) == [0, 1, 4, 7, 10]
    assert evaluation_steps(1, 5) == [0, 1] and evaluation_steps(0, 5) == []
    assert evaluation_steps(5, 1) == [0, 1, 2, 3, 4, 5]


def test_the_untrained_model_is_evaluated_before_any_update_near_the_uniform_loss(verdict_ids):
    """Day 15: the first figure is a random model's loss, about ln(50,257) = 10.82, at step 0."""
    _, events = run_train(verdict_ids, FAST)
    first = events[0]
    assert isinstance(first, EvalEvent) and (first.step, first.epoch, first.tokens_seen) == (0, 0, 0)
    assert abs(first.val_loss - math.log(50257)) < 0.5 and first.perplexity > 10_000


# ---------------------------------------------------------------------------------------------
# Any task plugs into the loop: two that exist nowhere else


@register("test_regression_eval")
@dataclass(frozen=True)
class RegressionEval(EvalEvent):
    val_mae: float


def regression_task(train_batches, val_batches):
    def calc_loss_batch(inputs, targets, model):
        return F.mse_loss(model(inputs).float(), targets)

    def evaluate(model, eval_iter):
        def mean(batches, fn):
            return sum(fn(model(x), y).item() for x, y in batches[:eval_iter]) / len(batches[:eval_iter])

        return {"train_loss": mean(train_batches, F.mse_loss), "val_loss": mean(val_batches, F.mse_loss),
                "val_mae": mean(val_batches, F.l1_loss)}

    return Task(calc_loss_batch=calc_loss_batch, evaluate=evaluate, eval_event=RegressionEval)


def test_a_toy_regression_task_trains_with_its_own_evaluation_event():
    generator = torch.Generator().manual_seed(0)
    true_w = torch.tensor([[2.0], [-1.0], [0.5]])
    batches = [(x, x @ true_w) for x in torch.randn(12, 8, 3, generator=generator)]
    train_batches, val_batches = batches[:10], batches[10:]
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    settings = TrainSettings(epochs=5, lr=5e-2, weight_decay=0.0, eval_freq=10, eval_iter=2, bf16=False)
    events = list(train(model, train_batches, regression_task(train_batches, val_batches), settings))
    evals = [e for e in events if isinstance(e, RegressionEval)]
    assert [e.step for e in evals] == evaluation_steps(50, 10)
    assert evals[-1].val_loss < evals[0].val_loss / 20 and evals[-1].val_mae < evals[0].val_mae
    assert from_dict(to_dict(evals[-1])) == evals[-1] and to_dict(evals[-1])["type"] == "test_regression_eval"
    assert isinstance(events[-1], DoneEvent) and events[-1].step == 50


def test_a_masked_target_language_model_loss_plugs_in():
    """Chapter 7's shape of task: targets of -100 (padding, the prompt) do not count."""
    torch.manual_seed(0)
    model = GPTModel({**SMALL, "vocab_size": 50, "drop_rate": 0.0})
    generator = torch.Generator().manual_seed(1)
    inputs = torch.randint(0, 50, (4, 4, 8), generator=generator)
    targets = inputs.roll(-1, dims=-1)
    targets[..., :3] = -100  # only the last five positions are scored
    batches = list(zip(inputs, targets, strict=True))
    seen = []

    def calc_loss_batch(x, y, m):
        seen.append(int((y != -100).sum()))
        return F.cross_entropy(m(x).flatten(0, 1).float(), y.flatten(), ignore_index=-100)

    def evaluate(m, eval_iter):
        losses = [F.cross_entropy(m(x).flatten(0, 1).float(), y.flatten(), ignore_index=-100).item()
                  for x, y in batches[:eval_iter]]
        return {"train_loss": sum(losses) / len(losses), "val_loss": losses[-1]}

    task = Task(calc_loss_batch=calc_loss_batch, evaluate=evaluate, augment=None, sample=lambda m: "text")
    events = list(train(model, batches, task, TrainSettings(epochs=3, lr=1e-2, eval_freq=4, eval_iter=2)))
    evals = [e for e in events if isinstance(e, EvalEvent)]
    assert seen == [4 * 5] * 12 and evals[-1].train_loss < evals[0].train_loss
    assert [e.text for e in events if isinstance(e, SampleEvent)] == ["text"] * 3


def test_the_loop_refuses_an_empty_loader_and_a_fully_frozen_model():
    model = torch.nn.Linear(3, 1)
    task = Task(calc_loss_batch=lambda x, y, m: F.mse_loss(m(x), y), evaluate=lambda m, n: {})
    with pytest.raises(ValueError, match="no batches"):
        next(train(model, [], task, FAST))
    model.requires_grad_(False)
    with pytest.raises(ValueError, match="nothing to train"):
        next(train(model, [(torch.zeros(1, 3), torch.zeros(1, 1))], task, FAST))
