"""Does watching a run slow it down? Training speed with the live Pretraining page open in a browser, and without.

Starts the app (`streamlit run`, as a learner does) and, in turns, trains the page's default run
for `--seconds` while headless Chromium shows the live page, then the same with the browser
closed. Each run is started and stopped from the page; its speed is the last step's tokens/s as
saved in its checkpoint (an average over its steps, evaluations aside). Prints both speeds, and
the watched / unwatched ratio of the medians (1.0: watching costs nothing). A short run first,
not counted, pays the server's one-time costs (the first page build, the first tokenizer pass).

    python benchmarks/watched_training.py --seconds 60 --rounds 3 [--warm-up 10] [--small]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, alternate, machine_line, median, table

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 600_000  # a busy shared machine can take minutes to start or save a run


def _server_harness():
    """The browser tests' app launcher (one definition of how the app is started for a browser)."""
    spec = importlib.util.spec_from_file_location("browser_harness", ROOT / "tests" / "browser" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _open(browser, url: str):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.goto(f"{url}/pretraining", wait_until="domcontentloaded")
    return context, page


def _smallest(page, label: str) -> None:
    """Move a slider to its smallest value, as a learner would with the Home key."""
    thumb = page.get_by_test_id("stSlider").filter(has_text=label).get_by_role("slider")
    thumb.focus(timeout=TIMEOUT_MS)
    page.keyboard.press("Home")
    page.wait_for_timeout(500)
    page.get_by_test_id("stStatusWidget").wait_for(state="hidden", timeout=TIMEOUT_MS)


def _longest(page) -> None:
    """As many epochs as the page allows, so that no run ends by itself before it is stopped."""
    epochs = page.get_by_role("spinbutton", name="Epochs", exact=True)
    epochs.fill(epochs.get_attribute("max", timeout=TIMEOUT_MS))
    epochs.press("Enter")
    page.wait_for_timeout(500)
    page.get_by_test_id("stStatusWidget").wait_for(state="hidden", timeout=TIMEOUT_MS)


def _newest_speed(runs_dir: Path, before: set[str]) -> float:
    """tokens/s of the last step of the run saved since `before`."""
    new = sorted(p for p in runs_dir.iterdir() if p.is_dir() and p.name not in before)
    if not new:
        raise RuntimeError("the run saved no checkpoint")
    history = json.loads((new[-1] / "checkpoint.json").read_text())["history"]
    steps = [e for e in history if e.get("type") == "step"]
    if not steps:
        raise RuntimeError("the run took no step: give it more --seconds")
    return float(steps[-1]["tokens_per_s"])


def one_run(browser, server, seconds: float, watched: bool, small: bool) -> float:
    """Start the page's run, let it train `seconds` (watched or not), stop it; its tokens/s. `small`: the
    shortest context and batch (a step in well under a second, even on a busy machine)."""
    before = {p.name for p in server.runs_dir.iterdir()}
    context, page = _open(browser, server.url)
    if small:
        _smallest(page, "Context length")
        _smallest(page, "Batch size")
    _longest(page)
    page.get_by_role("button", name="Start training").click(timeout=TIMEOUT_MS)
    page.get_by_role("button", name="Stop training").wait_for(timeout=TIMEOUT_MS)
    if not watched:
        context.close()
    time.sleep(seconds)
    if not watched:
        context, page = _open(browser, server.url)
    page.get_by_role("button", name="Stop training").click(timeout=TIMEOUT_MS)
    page.get_by_text("Stopped after").first.wait_for(timeout=TIMEOUT_MS)
    context.close()
    return _newest_speed(server.runs_dir, before)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="training time of each run")
    parser.add_argument("--rounds", type=int, default=3, help="watched and unwatched runs, in turns")
    parser.add_argument("--warm-up", type=float, default=10.0,
                        help="seconds of an uncounted watched run before the measured ones (0: none)")
    parser.add_argument("--small", action="store_true",
                        help="the shortest context (16 tokens) and batch (1) instead of the page's defaults")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit(f"no Chromium at {CHROMIUM}: install Debian's `chromium` package")
    from playwright.sync_api import sync_playwright

    harness = _server_harness()
    with tempfile.TemporaryDirectory() as workdir, harness.running_app(Path(workdir)) as server, \
            sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        if args.warm_up > 0:
            one_run(browser, server, args.warm_up, watched=True, small=args.small)
        speeds = alternate({
            "watched": lambda: one_run(browser, server, args.seconds, watched=True, small=args.small),
            "unwatched": lambda: one_run(browser, server, args.seconds, watched=False, small=args.small),
        }, args.rounds)
        browser.close()
    print(machine_line())
    what = "the tiny model, 16-token windows, batch 1" if args.small else "the Pretraining page's default run"
    warm_up = f", after a {args.warm_up:g} s warm-up run" if args.warm_up > 0 else ""
    print(f"{what}, {args.seconds:g} s of training per run, {args.rounds} round(s){warm_up}\n")
    print(table(["browser", "tokens/s (each run)", "median tokens/s"],
                [(name, ", ".join(f"{v:,.0f}" for v in values), median(values)) for name, values in speeds.items()]))
    ratio = median(speeds["watched"]) / median(speeds["unwatched"])
    print(f"\nwatched / unwatched ratio: {ratio:.2f}")


if __name__ == "__main__":
    main()
