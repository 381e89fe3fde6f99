#!/usr/bin/env python3
"""Plots the latest run in loadtests/groq.csv (written by `loadtests groq`) into groq.svg.

One group of bars per scenario (fake's token rate x concurrent conversations), each
with the direct baseline (reqwest straight to the fake Groq) beside Aisle:
  1. time added to the first token, p50 and p99 (ms, log scale), with the 5 ms goal;
  2. delivered token rate per conversation, p50 and p1 (worst 1 %), as a fraction of
     the fake's own rate (the direct p50 of the same scenario), log scale, with the 0.98
     goal (above 1: tokens held back, then sent in a burst); the nominal rate's fraction
     is written under each group;
  3. all tokens delivered per second in the scenario, direct and Aisle, beside the
     demand (conversations x the fake's own rate).

Needs matplotlib (`pip install matplotlib`). Usage: python3 loadtests/plot_groq.py [csv] [svg]
"""

import csv
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).resolve().parent
GOAL_ADDED_P99_MS = 5.0
GOAL_RATE_RATIO = 0.98


def num(row, key):
    try:
        return float(row[key])
    except (KeyError, TypeError, ValueError):
        return float("nan")


def latest_run(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit(f"{path}: no rows")
    last = (rows[-1]["date"], rows[-1]["commit"])
    return [r for r in rows if (r["date"], r["commit"]) == last]


def main():
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "groq.csv"
    dst = Path(sys.argv[2]) if len(sys.argv) > 2 else HERE / "groq.svg"
    rows = latest_run(src)
    scenarios = []
    for r in rows:
        key = (num(r, "rate"), int(r["conversations"]))
        if key not in scenarios:
            scenarios.append(key)
    by = {(num(r, "rate"), int(r["conversations"]), r["target"]): r for r in rows}
    labels = [f"{rate:.0f} tok/s\n{n} conv." for rate, n in scenarios]
    x = list(range(len(scenarios)))
    width = 0.2
    colors = {"direct": "#888888", "aisle": "#1f77b4"}

    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(18, 5.6))
    for i, (target, stat) in enumerate([("direct", "p50"), ("direct", "p99"), ("aisle", "p50"), ("aisle", "p99")]):
        vals = [max(num(by.get((s[0], s[1], target), {}), f"added_{stat}_ms"), 0.01) for s in scenarios]
        ax1.bar(
            [p + (i - 1.5) * width for p in x],
            vals,
            width,
            color=colors[target],
            alpha=0.55 if stat == "p50" else 1.0,
            label=f"{target} {stat}",
        )
    ax1.axhline(GOAL_ADDED_P99_MS, color="red", linestyle="--", linewidth=1, label=f"goal: Aisle p99 ≤ {GOAL_ADDED_P99_MS:g} ms")
    ax1.set_yscale("log")
    ax1.set_ylabel("ms")
    ax1.set_title("Time added to the first token\n(first token − send − 1/rate)")
    ax1.set_xticks(x)
    ax1.set_xticklabels(labels)
    ax1.legend(fontsize=8)
    ax1.grid(axis="y", which="both", alpha=0.3)

    notes = []
    for i, (target, stat) in enumerate([("direct", "p50"), ("direct", "p1"), ("aisle", "p50"), ("aisle", "p1")]):
        vals = []
        for s in scenarios:
            own = num(by.get((s[0], s[1], "direct"), {}), "tok_per_s_p50")
            vals.append(num(by.get((s[0], s[1], target), {}), f"tok_per_s_{stat}") / own if own > 0 else float("nan"))
        ax2.bar(
            [p + (i - 1.5) * width for p in x],
            vals,
            width,
            color=colors[target],
            alpha=0.55 if stat == "p50" else 1.0,
            label=f"{target} {stat}",
        )
    for s in scenarios:
        own = num(by.get((s[0], s[1], "direct"), {}), "tok_per_s_p50")
        notes.append(f"fake's own {own:.0f} tok/s\n= {own / s[0]:.2f}× nominal")
    ax2.axhline(GOAL_RATE_RATIO, color="red", linestyle="--", linewidth=1, label=f"goal: Aisle ≥ {GOAL_RATE_RATIO}×")
    ax2.set_ylabel("delivered rate / the fake's own (direct p50)")
    ax2.set_title("Delivered token rate per conversation\n((tokens − 1) / (last − first))")
    ax2.set_xticks(x)
    ax2.set_xticklabels([f"{l}\n{n}" for l, n in zip(labels, notes)], fontsize=8)
    ax2.set_yscale("log")
    ax2.legend(fontsize=8, loc="upper left", ncol=2)
    ax2.grid(axis="y", which="both", alpha=0.3)

    width3 = 0.27
    demand = []
    for s in scenarios:
        own = num(by.get((s[0], s[1], "direct"), {}), "tok_per_s_p50")
        demand.append(own * s[1])
    ax3.bar([p - width3 for p in x], demand, width3, color="#dddddd", edgecolor="#888888", label="demand: conversations × fake's own")
    for i, target in enumerate(["direct", "aisle"]):
        vals = [num(by.get((s[0], s[1], target), {}), "all_tok_per_s") for s in scenarios]
        ax3.bar([p + i * width3 for p in x], vals, width3, color=colors[target], label=f"{target}: delivered")
    ax3.set_ylim(bottom=0)
    ax3.set_ylabel("tokens / s, all conversations")
    ax3.set_title("All tokens delivered per second\n(tokens / (last token − first send))")
    ax3.set_xticks(x)
    ax3.set_xticklabels(labels)
    ax3.legend(fontsize=8)
    ax3.grid(axis="y", which="both", alpha=0.3)

    r = rows[0]
    fig.suptitle(
        f"loadtests groq, {r['date'][:16].replace('T', ' ')} UTC, commit {r['commit']}, "
        f"{r['nproc']} cores, background load {r['background_cpu_pct']}%",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(dst)
    print(f"wrote {dst}")


if __name__ == "__main__":
    main()
