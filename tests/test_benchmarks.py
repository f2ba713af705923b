"""The benchmarks still run and print their tables: short smoke runs, not measurements."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_kv_cache_benchmark_prints_the_speed_up_for_each_prompt_length():
    result = subprocess.run(
        [sys.executable, "benchmarks/kv_cache.py", "--new-tokens", "2", "--prompt-tokens", "3", "5", "--rounds", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )
    assert result.returncode == 0, result.stderr
    assert "floor of a cached step" in result.stdout
    rows = [line for line in result.stdout.splitlines() if line.startswith(("| 3 |", "| 5 |"))]
    assert len(rows) == 2 and all("| yes |" in row for row in rows), result.stdout  # identical tokens


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.timeout(1500)
def test_watched_training_benchmark_prints_both_speeds_and_their_ratio():
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("no Chromium at /usr/bin/chromium")
    result = subprocess.run(
        [sys.executable, "benchmarks/watched_training.py", "--seconds", "5", "--rounds", "1", "--warm-up", "0",
         "--small"],
        cwd=ROOT, capture_output=True, text=True, timeout=1400,
    )
    assert result.returncode == 0, result.stderr
    assert "| watched |" in result.stdout and "| unwatched |" in result.stdout
    assert "watched / unwatched ratio:" in result.stdout


def test_the_onednn_route_is_kept_off_when_its_error_is_not_fp32s():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from ceilings import onednn_verdict

    figures = {"fp32_gflops": 185.0, "onednn_fp32_gflops": 434.0, "fp32_error": 6.8e-8}
    assert "off" in onednn_verdict({**figures, "onednn_fp32_error": 2.7e-4})  # bf16 inside, as on AMX CPUs
    assert "within" in onednn_verdict({**figures, "onednn_fp32_error": 1e-7})
