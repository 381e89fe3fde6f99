#!/usr/bin/env python3
"""Plots loadtests/results.csv (one line per bench run and scenario) into results.svg.

Panels, one point per run (x axis: run date and git commit):
  1. ping throughput ratio Aisle/echo, with the 0.85 goal;
  2. ping round-trip latency p50/p90/p99 for echo and Aisle (log scale);
  3. cart ack latency p50/p90/p99 for echo (fake shop) and Aisle, with the 5 ms goal;
  4. cart effect latency (to the `cart` event) p50/p90/p99, with the same goal (runs
     before it was measured have no points there).

Needs matplotlib (`pip install matplotlib`). Usage: python3 loadtests/plot.py [csv] [svg]
"""

import csv
import sys
from collections import OrderedDict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).resolve().parent
GOAL_PING_RATIO = 0.85
GOAL_CART_P99_MS = 5.0


def load(path):
    """{run label: {(scenario, target): row}} in file order."""
    runs = OrderedDict()
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            label = f"{row['date'][:16].replace('T', ' ')}\n{row['commit']}"
            runs.setdefault(label, {})[(row["scenario"], row["target"])] = row
    return runs


def num(row, key):
    try:
        return float(row[key])
    except (KeyError, TypeError, ValueError):
        return float("nan")


def series(runs, scenario, target, key, scale=1.0):
    return [num(r.get((scenario, target), {}), key) / scale for r in runs.values()]


def main():
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "results.csv"
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else HERE / "results.svg"
    runs = load(src)
    if not runs:
        sys.exit(f"{src}: no runs")
    x = list(range(len(runs)))
    labels = list(runs.keys())
    fig, axes = plt.subplots(4, 1, figsize=(max(9, 1.2 * len(runs) + 6), 14), sharex=True)

    ax = axes[0]
    ax.plot(x, series(runs, "ping", "aisle", "ratio_vs_echo"), "o-", label="Aisle / echo")
    ax.axhline(GOAL_PING_RATIO, color="tab:red", ls="--", label=f"goal ≥ {GOAL_PING_RATIO}")
    ax.set_ylabel("ping throughput ratio")
    ratios = [r for r in series(runs, "ping", "aisle", "ratio_vs_echo") if r == r]
    ax.set_ylim(0, max([1.2] + [r * 1.1 for r in ratios]))
    ax.set_title("WebSocket ping throughput, Aisle relative to the raw echo baseline")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small")
    ax.grid(alpha=0.3)

    for ax, scenario, prefix, title in (
        (axes[1], "ping", "", "ping round trip (closed loop)"),
        (axes[2], "cart", "", "cart.set → ack (open loop, from scheduled send)"),
        (axes[3], "cart", "effect_", "cart.set → its cart event, the effect (open loop, from scheduled send)"),
    ):
        for target, color in (("echo", "tab:gray"), ("aisle", "tab:blue")):
            for key, style in (("p50_us", ":"), ("p90_us", "--"), ("p99_us", "-")):
                ys = series(runs, scenario, target, prefix + key, scale=1000.0)
                ax.plot(x, ys, style, marker="o", color=color, label=f"{target} {key[:3]}")
        if scenario == "cart":
            ax.axhline(GOAL_CART_P99_MS, color="tab:red", ls="--", label=f"goal p99 ≤ {GOAL_CART_P99_MS:g} ms")
        ax.set_yscale("log")
        ax.set_ylabel("latency, ms")
        ax.set_title(title)
        ax.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5))
        ax.grid(alpha=0.3, which="both")

    axes[-1].set_xticks(x)
    axes[-1].set_xticklabels(labels, fontsize="small")
    axes[-1].set_xlabel("run (UTC date, git commit)")
    fig.tight_layout()
    fig.savefig(out, format="svg", metadata={"Date": None})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
