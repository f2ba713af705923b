"""The KV-cache benchmark (issue 3) still runs and prints its table: a short smoke run, not a measurement."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
