"""The sampling sandbox's logic: the distribution at each stage, reproducible picks."""

from __future__ import annotations

import pytest
import torch

from core.gpt.config import get_preset
from core.gpt.generate import sampling_stages
from core.gpt.model import GPTModel
from core.widgets import sampling_view as sv


@pytest.fixture(scope="module")
def model() -> GPTModel:
    torch.manual_seed(0)
    return GPTModel(get_preset("tiny", context_length=16, n_layers=1)).eval()


def test_stage_rows_show_each_stage_and_the_rest_of_the_mass():
    logits = torch.tensor([4.0, 3.0, 2.0, 1.0, 0.0, -1.0])
    stages = sampling_stages(logits, temperature=2.0, top_k=3, top_p=0.5)
    rows = sv.stage_rows(stages, lambda i: f"t{i}", top_n=4)
    by_stage = {stage: [r for r in rows if r["stage"] == stage] for stage in sv.STAGES}
    for stage, stage_rows in by_stage.items():
        assert sum(r["probability"] for r in stage_rows) == pytest.approx(1.0), stage
        assert [r["token"] for r in stage_rows] == ["t0", "t1", "t2", "t3", sv.OTHERS]
    assert by_stage[sv.STAGES[1]][3]["probability"] == 0.0  # cut by top-k
    assert by_stage[sv.STAGES[2]][0]["probability"] < by_stage[sv.STAGES[1]][0]["probability"]  # flattened
    assert by_stage[sv.STAGES[3]][0]["probability"] == 1.0  # the nucleus of 0.5 is the top token alone
    assert sv.kept_tokens(stages) == 1


def test_picks_repeat_with_the_same_seed_and_differ_with_another(model):
    strategy = sv.Strategy(temperature=1.5, top_k=30)

    def run(seed: int) -> list[int]:
        ids = [1, 2, 3]
        for step in range(6):
            _, pick = sv.pick_next(model, ids, strategy, seed, step)
            ids.append(pick.id)
        return ids[3:]

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_a_pick_reports_its_probability_and_rank(model):
    stages, pick = sv.pick_next(model, [5, 6], sv.Strategy(), seed=1, step=0)
    assert pick.probability == 1.0 and pick.rank == 1
    assert pick.id == int(stages.logits.argmax())
    _, pick = sv.pick_next(model, [5, 6], sv.Strategy(temperature=1.0, top_k=3), seed=1, step=0)
    assert 1 <= pick.rank <= 3 and 0 < pick.raw_probability < pick.probability


def test_bad_settings_raise_value_errors(model):
    with pytest.raises(ValueError, match="top_k"):
        sv.pick_next(model, [1], sv.Strategy(temperature=1.0, top_k=10**6), seed=0, step=0)
    with pytest.raises(ValueError, match="empty"):
        sv.pick_next(model, [], sv.Strategy(temperature=0.5, top_k=5), seed=0, step=0)
