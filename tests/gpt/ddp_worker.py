"""One process of a torchrun test run (tests/gpt/test_distributed.py): pretrains a small model and
writes its events to OUT/rank<R>.json. Usage: ddp_worker.py CORPUS RUNS OUT BATCH MODE
(MODE: "train", "stop" = rank 1 stops after step 2, "crash" = rank 1 dies after step 2)."""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path

from core.gpt.distributed import current_ranks, init_from_env, shutdown
from core.gpt.events import StepEvent, to_dict
from core.gpt.pretrain import pretrain_run
from core.gpt.train import TrainSettings

CFG = {"vocab_size": 50257, "context_length": 32, "emb_dim": 32, "n_heads": 4, "n_layers": 2, "drop_rate": 0.0}
SETTINGS = TrainSettings(epochs=1, eval_freq=2, eval_iter=2, bf16=False, device="cpu")


def main(corpus: str, runs: str, out: str, batch: str, mode: str) -> None:
    init_from_env("cpu", timeout_s=20)
    ranks = current_ranks()
    stop = threading.Event()
    events = []
    text = Path(corpus).read_text(encoding="utf-8")
    for event in pretrain_run(text, CFG, SETTINGS, batch_size=int(batch), stop=stop, runs_root=Path(runs),
                              sample_prompt=None):
        events.append(to_dict(event))
        if isinstance(event, StepEvent) and event.step == 2 and ranks.rank == 1:
            if mode == "crash":
                os._exit(3)
            if mode == "stop":
                stop.set()
    Path(out, f"rank{ranks.rank}.json").write_text(json.dumps(events))
    shutdown()


if __name__ == "__main__":
    main(*sys.argv[1:])
