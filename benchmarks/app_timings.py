"""App timings: counting GPT-2 XL's parameters, each page's first render, Start to first loss point.

1. `core.gpt.params.count_parameters` for GPT-2 XL (1.6 billion parameters) in a fresh process:
   time of the call and the peak memory it adds (the model is built on the meta device).
2. Each page rendered by Streamlit's AppTest in a warm process (imports and caches filled by
   one untimed render first), pages taking turns for `--rounds` rounds.
3. The app's default training run (tiny preset, batch 2, the journal's own text, as the
   Pretraining widget starts it) from the call to `pretrain_run` to the first evaluation, which
   is the chart's first loss point, on the fast path and in fp32, taking turns. The page polls
   the run every `ui.pretraining.REFRESH_S` seconds, so the chart shows the point up to that much later.

    python benchmarks/app_timings.py [--rounds 3] [--skip-pages] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, add_threads_option, alternate, apply_threads, machine_line, median, table

PAGES = ("progress", "entries", "new_entry", "tokenizer", "attention", "parameters", "pretraining", "sampling", "spam")


def _memory_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def xl_count_child() -> None:
    """Runs in a fresh process: count XL's parameters, print seconds and added peak MiB as JSON."""
    from core.gpt.config import PRESETS
    from core.gpt.params import count_parameters

    before = _memory_kib("VmRSS")
    start = time.perf_counter()
    counts = count_parameters(PRESETS["gpt2-xl"])
    seconds = time.perf_counter() - start
    added_mib = (_memory_kib("VmHWM") - before) / 1024
    print(json.dumps({"seconds": seconds, "peak_added_mib": added_mib, "total": counts.total}))


def xl_count(rounds: int) -> list[tuple[str, str]]:
    runs = []
    for _ in range(rounds):
        out = subprocess.run([sys.executable, __file__, "--xl-child"], capture_output=True, text=True, check=True,
                             cwd=ROOT)
        runs.append(json.loads(out.stdout.splitlines()[-1]))
    return [(
        f"count GPT-2 XL's parameters ({runs[0]['total']:,})",
        f"{median(r['seconds'] for r in runs):.2f} s, +{median(r['peak_added_mib'] for r in runs):.0f} MiB peak",
    )]


def page_renders(rounds: int) -> list[tuple[str, str]]:
    from streamlit.testing.v1 import AppTest

    app = str(ROOT / "streamlit_app.py")

    def render(page: str) -> float:
        at = AppTest.from_file(app, default_timeout=300).run()
        start = time.perf_counter()
        at.switch_page(f"pages/{page}.py").run()
        seconds = time.perf_counter() - start
        if at.exception:
            raise RuntimeError(f"page {page} raised: {[e.message for e in at.exception]}")
        return seconds

    for page in PAGES:  # the cold render: imports, tokenizer, cached resources
        render(page)
    times = alternate({page: (lambda p=page: render(p)) for page in PAGES}, rounds)
    return [(f"page {page}: render, warm (AppTest)", f"{median(times[page]):.2f} s") for page in PAGES]


def first_loss_point(rounds: int) -> list[tuple[str, str]]:
    from core.app.corpora import journal_text
    from core.gpt.events import EvalEvent, StartEvent, StepEvent
    from core.gpt.pretrain import pretrain_run
    from core.gpt.train import TrainSettings

    text = journal_text()
    runs_root = Path(tempfile.mkdtemp(prefix="bench-runs-"))

    def run(bf16: bool) -> dict[str, float]:
        marks: dict[str, float] = {}
        start = time.perf_counter()
        events = pretrain_run(text, "tiny", TrainSettings(epochs=5, bf16=bf16), batch_size=2, runs_root=runs_root)
        for event in events:
            for name, kind in (("set-up", StartEvent), ("first step", StepEvent), ("first loss point", EvalEvent)):
                if isinstance(event, kind) and name not in marks:
                    marks[name] = time.perf_counter() - start
            if len(marks) == 3:  # the first loss point is the untrained model's (step 0), before the first step
                events.close()  # stop before the run goes on (and before it saves a checkpoint)
        return marks

    run(True)  # warm: the app has torch, the tokenizer and the journal loaded before Start is pressed
    results: dict[str, list[dict[str, float]]] = {"fast path": [], "fp32": []}
    for _ in range(rounds):
        results["fast path"].append(run(True))
        results["fp32"].append(run(False))
    rows = []
    for mode, marks in results.items():
        for name in ("set-up", "first loss point", "first step"):
            rows.append((f"Start to {name}, tiny on the journal ({mode})", f"{median(m[name] for m in marks):.2f} s"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-pages", action="store_true", help="leave out the page renders (the slowest part)")
    add_threads_option(parser)
    parser.add_argument("--xl-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.xl_child:
        xl_count_child()
        return
    apply_threads(args.threads)
    from core.paths import tiktoken_environment

    os.environ.update(tiktoken_environment())
    os.environ.setdefault("LLM_JOURNAL_RUNS_DIR", tempfile.mkdtemp(prefix="bench-app-runs-"))
    print(machine_line())
    rows = xl_count(args.rounds) + first_loss_point(args.rounds)
    if not args.skip_pages:
        rows += page_renders(args.rounds)
    from ui.pretraining import REFRESH_S

    print(table(("measurement", "median"), rows))
    print(f"The live chart polls every {REFRESH_S:g} s, so it shows the first loss point up to that much later.")


if __name__ == "__main__":
    main()
