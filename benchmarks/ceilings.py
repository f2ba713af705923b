"""The machine's limits, so other figures read as a fraction of them.

fp32 and bf16 matrix-multiply throughput (2048 x 2048 x 2048), the oneDNN route for fp32
products (with its error, since on CPUs with AMX it really computes in bf16), and memory
read bandwidth (summing 256 MiB), plus what those imply for 124M training and decoding.

    python benchmarks/ceilings.py [--repeats 5]
"""

from __future__ import annotations

import argparse

import torch
from common import machine_line, median, table, timed

SIZE = 2048
BANDWIDTH_MIB = 256


def matmul_gflops(dtype: torch.dtype, repeats: int, onednn_fp32: bool = False) -> tuple[float, float]:
    """GFLOP/s of a SIZE^3 product and its max abs error against float64 (inputs ~ N(0, 1) / sqrt(SIZE))."""
    generator = torch.Generator().manual_seed(0)
    a64 = torch.randn(SIZE, SIZE, generator=generator, dtype=torch.float64) / SIZE**0.5
    b64 = torch.randn(SIZE, SIZE, generator=generator, dtype=torch.float64) / SIZE**0.5
    a, b = a64.to(dtype), b64.to(dtype)
    setting = torch.backends.mkldnn.matmul.fp32_precision
    torch.backends.mkldnn.matmul.fp32_precision = "bf16" if onednn_fp32 else "none"
    try:
        error = float((a @ b).double().sub(a64 @ b64).abs().max())
        seconds = median(timed(lambda: a @ b) for _ in range(repeats))
    finally:
        torch.backends.mkldnn.matmul.fp32_precision = setting
    return 2 * SIZE**3 / seconds / 1e9, error


def read_bandwidth_gbs(repeats: int) -> float:
    """GB/s reading a float32 tensor much larger than the caches."""
    x = torch.ones(BANDWIDTH_MIB * 1024 * 1024 // 4)
    x.sum()
    return x.numel() * 4 / median(timed(x.sum) for _ in range(repeats)) / 1e9


def measure(repeats: int = 5) -> dict[str, float]:
    fp32, fp32_error = matmul_gflops(torch.float32, repeats)
    onednn, onednn_error = matmul_gflops(torch.float32, repeats, onednn_fp32=True)
    bf16, bf16_error = matmul_gflops(torch.bfloat16, repeats)
    return {
        "fp32_gflops": fp32, "fp32_error": fp32_error,
        "onednn_fp32_gflops": onednn, "onednn_fp32_error": onednn_error,
        "bf16_gflops": bf16, "bf16_error": bf16_error,
        "read_gbs": read_bandwidth_gbs(repeats),
    }


def report(figures: dict[str, float]) -> str:
    rows = [
        ("fp32 matmul 2048^3 (default, MKL)", f"{figures['fp32_gflops']:,.0f} GFLOP/s", f"{figures['fp32_error']:.1e}"),
        ("fp32 matmul routed to oneDNN (fp32_precision='bf16')", f"{figures['onednn_fp32_gflops']:,.0f} GFLOP/s",
         f"{figures['onednn_fp32_error']:.1e}"),
        ("bf16 matmul 2048^3", f"{figures['bf16_gflops']:,.0f} GFLOP/s", f"{figures['bf16_error']:.1e}"),
        (f"memory read ({BANDWIDTH_MIB} MiB fp32 sum)", f"{figures['read_gbs']:,.1f} GB/s", ""),
    ]
    return table(("ceiling", "value", "max abs error vs fp64"), rows)


ONEDNN_FP32_TOLERANCE = 100  # times the default fp32 product's error: more is not an fp32 product any more


def onednn_verdict(figures: dict[str, float]) -> str:
    """Whether the oneDNN route may stand in for fp32 products here, from its measured error."""
    ratio = figures["onednn_fp32_error"] / max(figures["fp32_error"], 1e-30)
    speed = figures["onednn_fp32_gflops"] / figures["fp32_gflops"]
    if ratio > ONEDNN_FP32_TOLERANCE:
        return (f"oneDNN fp32 route: off for fp32 training here: {speed:.1f}x the speed but {ratio:,.0f}x the fp32 "
                "error (it computes in bf16 on this CPU); with bf16 on, autocast is the faster bf16 route")
    return f"oneDNN fp32 route: within {ratio:,.0f}x the fp32 error here, {speed:.1f}x the speed"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(machine_line())
    figures = measure(args.repeats)
    print(report(figures))
    print(onednn_verdict(figures))


if __name__ == "__main__":
    main()
