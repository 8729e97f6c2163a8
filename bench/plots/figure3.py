#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Renders the paper's Figure 3 (SafetyNets, TIMIT network) from `nnproof bench --json` output:
verifier, prover and plain-execution time against batch size, as CSV and PNG.

usage: figure3.py BENCH.json OUT_PREFIX   (writes OUT_PREFIX.csv and OUT_PREFIX.png)
"""
import csv
import json
import sys

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

COLUMNS = ["batch", "forward_s", "prove_s", "verify_s", "float_forward_s", "proof_bytes", "soundness_bits"]


def main(bench_json: str, prefix: str) -> None:
    with open(bench_json) as f:
        bench = json.load(f)
    rows = sorted(bench["results"], key=lambda r: r["batch"])
    with open(prefix + ".csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS + ["engine", "field", "device", "threads"])
        for r in rows:
            w.writerow([r[c] for c in COLUMNS] + [bench["engine"], bench["field"], bench["device"], bench["threads"]])

    batches = [r["batch"] for r in rows]
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=120)
    series = [
        ("prove_s", "prover (forward + proof)", "o-"),
        ("forward_s", "exact mod-p forward (same engine)", "s--"),
        ("float_forward_s", "plain execution (float32 sgemm)", "^-"),
        ("verify_s", "verifier", "d-"),
    ]
    for key, label, style in series:
        ax.plot(batches, [r[key] for r in rows], style, label=label)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("batch size")
    ax.set_ylabel("seconds")
    arch = "-".join(str(d) for d in bench["arch"])
    ax.set_title(f"TIMIT {arch}, {bench['field']}, {bench['engine']} engine, {bench['threads']} threads")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(prefix + ".png")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
