#!/usr/bin/env python3
"""Plots the retrieval bench's JSON (`AISLE_BENCH_JSON=... cargo bench -p engine --bench
retrieval`) into an SVG, with no dependency beyond Python 3 (no matplotlib here).

Panels:
  1. WANDS nDCG@10 per system, with the BM25 level and the 1.10x BM25 goal;
  2. hybrid query latency p50/p95 per pool and search breadth, beside the store's dense
     and BM25 queries and the exact brute force of the same run, with the 2 ms goal;
     recall@10 (plain and tie-aware) written under each group.

Usage: python3 loadtests/plot_retrieval.py [retrieval.json] [retrieval.svg]
"""

import json
import sys
from html import escape
from pathlib import Path

HERE = Path(__file__).resolve().parent
W = 980


def bar_panel(y0, title, rows, value_max, lines, fmt):
    """Horizontal bars: rows = [(label, value, colour)]; lines = [(value, label, colour)]."""
    left, right, row_h = 430, W - 60, 22
    out = [f'<text x="20" y="{y0 + 18}" font-size="15" font-weight="bold">{escape(title)}</text>']
    top = y0 + 32
    scale = (right - left) / value_max
    for i, (label, value, colour) in enumerate(rows):
        y = top + i * row_h
        out.append(f'<text x="{left - 8}" y="{y + 15}" font-size="12" text-anchor="end">{escape(label)}</text>')
        out.append(f'<rect x="{left}" y="{y + 3}" width="{max(value, 0) * scale:.1f}" height="{row_h - 6}" fill="{colour}"/>')
        out.append(f'<text x="{left + max(value, 0) * scale + 4:.1f}" y="{y + 15}" font-size="11">{fmt(value)}</text>')
    bottom = top + len(rows) * row_h
    for i, (value, label, colour) in enumerate(lines):
        x = left + value * scale
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}" stroke="{colour}" stroke-dasharray="4,3"/>')
        # One label per text row, so close lines do not print over each other.
        out.append(f'<text x="{x + 3:.1f}" y="{bottom + 12 + 13 * i}" font-size="11" fill="{colour}">{escape(label)}</text>')
    return out, bottom + 24 + 13 * max(len(lines) - 1, 0)


def main():
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "retrieval.json"
    dst = Path(sys.argv[2]) if len(sys.argv) > 2 else HERE / "retrieval.svg"
    data = json.loads(src.read_text())
    svg = []
    quality = data["quality"]
    bm25 = next((q["ndcg"] for q in quality if q["system"].startswith("BM25 alone")), None)
    rows = []
    for q in quality:
        s = q["system"]
        colour = "#888" if s.startswith("BM25") else "#4a7ebb" if s.startswith("dense") else "#d9822b"
        rows.append((s[:70], q["ndcg"], colour))
    lines = []
    if bm25:
        lines = [(bm25, f"BM25 {bm25:.3f}", "#444"), (1.1 * bm25, f"goal 1.10x = {1.1 * bm25:.3f}", "#c00")]
    part, y = bar_panel(0, "WANDS nDCG@10 (40 queries, 6,482 products; grey BM25, blue dense, orange hybrid)", rows, 1.0, lines, lambda v: f"{v:.3f}")
    svg += part
    rows = []
    for l in data["latency"]:
        pool = l["pool"]
        for name, key, colour in [("hybrid", "hybrid", "#d9822b"), ("dense, store", "dense", "#4a7ebb"), ("BM25, store", "keyword", "#888"), ("exact scan", "exact", "#6a6")]:
            rows.append((f"{pool}: {name} p50", l[key][0], colour))
            rows.append((f"{pool}: {name} p95", l[key][1], colour + "99" if len(colour) == 7 else colour))
        rows.append((f"{pool}: recall@10 plain {l['recall_plain']:.3f}, tie-aware {l['recall_ties']:.3f}", 0, "#fff"))
    vmax = max(8.0, max(v for _, v, _ in rows) * 1.1)
    part, y2 = bar_panel(y + 10, "Query latency, ms (p50 solid, p95 light; same run)", rows, vmax, [(2.0, "goal p95 2 ms", "#c00")], lambda v: f"{v:.2f}" if v else "")
    svg += part
    note = data.get("big_catalog", "")
    svg.append(f'<text x="20" y="{y2 + 10}" font-size="11">{escape(note)}</text>')
    height = y2 + 30
    dst.write_text(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{height}" font-family="sans-serif">'
        f'<rect width="100%" height="100%" fill="white"/>' + "".join(svg) + "</svg>\n"
    )
    print(f"wrote {dst}")


if __name__ == "__main__":
    main()
