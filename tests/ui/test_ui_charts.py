"""The shared loss charts: distinct colours per run, a legend out of the way, the overfitting gap called out."""

from __future__ import annotations

import pandas as pd

from ui.charts import RUN_COLOURS, final_gap, loss_chart, perplexity_chart


def rows(run: str, losses: list[tuple[float, float]]) -> list[dict]:
    out = []
    for step, (train, val) in enumerate(losses):
        for split, loss in (("training", train), ("validation", val)):
            out.append({"run": run, "step": step, "epoch": step / 2, "tokens_seen": 64 * step, "split": split,
                        "loss": loss, "perplexity": 2.718 ** loss})
    return out


def texts(spec: dict) -> list[str]:
    return [v["note"] for d in spec["datasets"].values() for v in d if "note" in v]


def test_runs_get_distinct_hues_and_the_legend_sits_below():
    data = pd.DataFrame(rows("run a", [(10.9, 10.9), (6.0, 6.5)]) + rows("run b", [(10.9, 10.9), (7.0, 7.2)]))
    spec = loss_chart(data, [], "tokens_seen").to_dict()
    colour = spec["layer"][0]["encoding"]["color"]
    assert colour["scale"]["range"] == RUN_COLOURS and len(set(RUN_COLOURS)) == len(RUN_COLOURS)
    assert colour["legend"]["orient"] == "bottom"
    assert perplexity_chart(data, "epoch").to_dict()["encoding"]["color"]["scale"]["range"] == RUN_COLOURS


def test_a_wide_gap_between_training_and_validation_is_called_memorising():
    overfit = pd.DataFrame(rows("run a", [(10.9, 10.9), (3.0, 6.0), (0.9, 6.1)]))
    assert final_gap(overfit)["gap"] == 6.1 - 0.9
    assert texts(loss_chart(overfit, [], "epoch").to_dict()) == ["gap 5.2: memorising"]
    healthy = pd.DataFrame(rows("run a", [(10.9, 10.9), (6.0, 6.4)]))
    assert texts(loss_chart(healthy, [], "epoch").to_dict()) == []
    assert final_gap(pd.DataFrame(rows("run a", [])).reindex(columns=["run", "step", "split", "loss"])) is None


def test_a_resumed_run_evaluated_twice_at_one_step_gives_one_gap():
    first = rows("run a", [(10.9, 10.9), (3.0, 6.0)])
    resumed = [{**r, "loss": r["loss"] - 1.0} for r in first if r["step"] == 1]  # evaluated again at step 1
    gap = final_gap(pd.DataFrame(first + resumed))
    assert gap is not None and gap["training"] == 2.0 and gap["validation"] == 5.0
