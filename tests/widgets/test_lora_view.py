"""The LoRA widget's figures: the book's counts, training memory in fp32, and the per-layer table."""

import pytest

from core.errors import UserError
from core.gpt.config import get_preset
from core.widgets import lora_view as lv

SMALL = get_preset("gpt2-small", qkv_bias=True)
MIB = 1024 * 1024


def test_spam_classifier_plan_matches_the_book():
    plan = lv.lora_plan(SMALL, 16, 16, num_classes=2)
    assert (plan.base, plan.trainable) == (124_441_346, 2_666_528)
    assert plan.share == pytest.approx(0.02143, abs=1e-5)
    assert sum(row["LoRA in all"] for row in plan.layers) == plan.trainable
    by_shape = {(row["layer"], row["shape"]): row for row in plan.layers}
    query = by_shape[(lv.TARGET_LABELS["query"], "768 x 768")]
    assert (query["layers"], query["weights per layer"], query["LoRA per layer"]) == (12, 768 * 768 + 768, 24_576)
    expand = by_shape[(lv.TARGET_LABELS["feed_forward"], "768 x 3072")]
    assert expand["layers"] == 12 and expand["LoRA per layer"] == 768 * 16 + 16 * 3072
    head = by_shape[(lv.TARGET_LABELS["output_head"], "768 x 2")]
    assert head["layers"] == 1 and head["LoRA per layer"] == 12_320
    assert head["LoRA / weights"] > 1  # the book's rank 16 on a two-way head: more adapter than layer


def test_memory_counts_weights_gradients_and_two_adamw_states():
    plan = lv.lora_plan(SMALL, 16, 16, num_classes=2)
    rows = {(r["method"], r["part"]): r for r in lv.memory_rows(plan)}
    assert rows[("LoRA", "weights")]["numbers"] == 124_441_346 + 2_666_528
    assert rows[("LoRA", "gradients")]["numbers"] == 2_666_528
    assert rows[("LoRA", "AdamW state")]["numbers"] == 2 * 2_666_528
    assert rows[("Full fine-tuning", "AdamW state")]["numbers"] == 2 * 124_441_346
    totals = lv.memory_totals(plan)
    assert totals["Full fine-tuning"] == pytest.approx(4 * 124_441_346 * 4 / MIB)
    assert totals["LoRA"] == pytest.approx((124_441_346 + 4 * 2_666_528) * 4 / MIB)
    assert lv.checkpoint_mb(plan)["LoRA"] == pytest.approx(2_666_528 * 4 / MIB)


def test_chapter_7_plan_for_gpt2_medium():
    plan = lv.lora_plan(get_preset("gpt2-medium", qkv_bias=True), 16, 16)
    assert (plan.base, plan.trainable) == (406_286_336, 7_898_384)


def test_fewer_targets_and_lower_rank_train_less():
    all_layers = lv.lora_plan(SMALL, 8, 16, num_classes=2).trainable
    qv = lv.lora_plan(SMALL, 8, 16, ("query", "value"), num_classes=2)
    assert qv.trainable == 12 * 2 * (768 * 8 + 8 * 768) < all_layers
    assert [row["layer"] for row in qv.layers] == [lv.TARGET_LABELS["query"], lv.TARGET_LABELS["value"]]


@pytest.mark.parametrize("cfg, rank, alpha, targets, message", [
    (SMALL, 0, 16, lv.TARGETS, "rank must be"),
    (SMALL, 5000, 16, lv.TARGETS, "larger than the 768 x 768 layer"),
    (SMALL, 16, -2, lv.TARGETS, "alpha must be"),
    (SMALL, 16, 16, (), "at least one"),
    ({**SMALL, "n_heads": 7}, 16, 16, lv.TARGETS, "divisible"),
    ({**SMALL, "n_layers": 10_000}, 16, 16, lv.TARGETS, "at most 256"),
    ({**SMALL, "emb_dim": -1}, 16, 16, lv.TARGETS, "positive integer"),
])
def test_bad_settings_say_what_is_wrong(cfg, rank, alpha, targets, message):
    with pytest.raises(UserError, match=message):
        lv.lora_plan(cfg, rank, alpha, targets, num_classes=2)


@pytest.mark.slow
def test_finetuning_runs_put_lora_beside_full_fine_tuning(sms_spam_path, gpt2_encoding, tmp_path):
    import threading

    import torch

    from core.gpt.events import StepEvent
    from core.gpt.finetune import Recipe, finetune_run
    from core.gpt.lora import LoRASettings
    from core.gpt.model import GPTModel
    from core.gpt.spam_data import balance, read_messages
    from core.gpt.train import TrainSettings

    messages = balance(read_messages(sms_spam_path), seed=1)[::20]
    cfg = {"vocab_size": 50257, "context_length": 24, "emb_dim": 32, "n_heads": 2, "n_layers": 2}
    settings = TrainSettings(epochs=1, lr=1e-3, eval_freq=5, eval_iter=1)
    for lora in (None, LoRASettings(rank=4, alpha=8)):
        torch.manual_seed(0)
        stop = threading.Event()
        for event in finetune_run(messages, GPTModel(cfg), Recipe(settings, lora=lora), base_name="tiny base",
                                  stop=stop, runs_root=tmp_path):
            if isinstance(event, StepEvent) and event.step == 2:
                stop.set()
    rows = lv.finetuning_runs(tmp_path)
    assert [row["method"] for row in rows] == ["LoRA, rank 4, alpha 8", "full: last 1 block + head"]
    lora_row, full_row = rows
    assert lora_row["base"] == full_row["base"] == "tiny base"
    assert 0 <= lora_row["test accuracy"] <= 1 and lora_row["training time (s)"] > 0
    assert lora_row["trainable parameters"] < full_row["trainable parameters"]
    assert lora_row["checkpoint MB"] < full_row["checkpoint MB"] / 20
