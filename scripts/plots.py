"""Draws the plots of BENCHMARKS.md from the benches' JSON.

Usage: plots.py BENCH_JSON_DIR OUT_DIR [--requests-only]
(scripts/plots.sh sets it up; --requests-only skips accuracy_cdf.png).
"""

import json
import math
import sys
from pathlib import Path

import matplotlib.pyplot as plt

MXCLOCK = "mxclock"
# One colour per strategy, the same in every panel; mxclock stands out.
COLOURS = {
    "mxclock": "#d62728",
    "min_rtt": "#1f77b4",
    "cristian": "#2ca02c",
    "server_date": "#9467bd",
    "unsigned_age": "#8c564b",
    "device_clock": "#7f7f7f",
}


def colour(name):
    return COLOURS.get(name, "#17becf")


def accuracy_cdf(doc, out):
    scenarios = doc["scenarios"]
    cols = 3
    rows = math.ceil(len(scenarios) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.0 * cols, 3.4 * rows), squeeze=False)
    for ax, sc in zip(axes.flat, scenarios):
        for st in sc["strategies"]:
            q = st.get("error_quantiles_ms")
            if not q:
                raise SystemExit(f"plots: {sc['name']}/{st['name']} has no error_quantiles_ms")
            n = len(q)
            ps = [(i + 1) / n for i in range(n)]
            xs = [max(v, 0.01) for v in q]
            is_mx = st["name"] == MXCLOCK
            label = st["name"]
            if st.get("refused_trials"):
                label += f" ({st['refused_trials']} refused)"
            ax.step(
                xs,
                ps,
                where="post",
                color=colour(st["name"]),
                linewidth=2.4 if is_mx else 1.2,
                zorder=3 if is_mx else 2,
                label=label,
            )
        ax.set_xscale("log")
        ax.set_xlim(0.1, 5e6)
        ax.set_ylim(0, 1.0)
        ax.axhline(0.99, color="#bbbbbb", linewidth=0.8, linestyle=":")
        ax.set_title(sc["name"], fontsize=11)
        ax.set_xlabel("|error| (ms, log)")
        ax.set_ylabel("fraction of trials")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    for ax in list(axes.flat)[len(scenarios):]:
        ax.axis("off")
    fig.suptitle(
        "Error CDF per scenario (cargo bench --bench accuracy): further left is better;"
        " dotted line: p99",
        fontsize=12,
    )
    fig.tight_layout()
    fig.savefig(out / "accuracy_cdf.png", dpi=80)
    plt.close(fig)


def drift_day(doc, out):
    rows = [r for r in doc["rows"] if r["server"].startswith("MSC4094") and r["trace_first_day"]]
    fig, axes = plt.subplots(len(rows), 1, figsize=(11, 3.3 * len(rows)), sharex=True, squeeze=False)
    for ax, r in zip(axes.flat, rows):
        pts = r["trace_first_day"]
        hours = [p[0] for p in pts]
        err = [p[1] for p in pts]
        unc = [p[2] for p in pts]
        ax.fill_between(hours, 0, unc, color="#9ecae1", alpha=0.6, label="reported uncertainty")
        ax.plot(hours, err, color="#d62728", linewidth=1.6, label="|error| (true)")
        ax.set_ylim(0, max(1100, max(unc) * 1.05))
        ax.set_ylabel("ms")
        title = r["client"].replace("`", "")
        ax.set_title(
            f"{title}: {r['requests_per_day'][0]:.0f} requests this day, max error "
            f"{max(err):.0f} ms",
            fontsize=10,
        )
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="upper right")
    axes.flat[-1].set_xlabel("hour of the simulated day (reboot ~03:00, network changes ~07:45, 08:30, 17:30, 18:15)")
    axes.flat[-1].set_xticks(range(0, 25, 2))
    fig.suptitle("One simulated day, MSC4094 server (cargo bench --bench requests_per_day)", fontsize=12)
    fig.tight_layout()
    fig.savefig(out / "drift_day.png", dpi=80)
    plt.close(fig)


def requests_per_day(doc, out):
    labels, values, colours = [], [], []
    for r in doc["rows"]:
        labels.append(f"{r['client']}\n{r['server']}".replace("`", ""))
        values.append(r["mean_requests_per_day"])
        colours.append("#d62728" if r["learn_drift"] else "#fc9272")
    for p in doc["peers"]:
        labels.append(p["client"])
        values.append(p["mean_requests_per_day"])
        colours.append("#7f7f7f")
    fig, ax = plt.subplots(figsize=(11, 0.55 * len(labels) + 1.2))
    ys = list(range(len(labels)))[::-1]
    ax.barh(ys, values, color=colours)
    for y, v in zip(ys, values):
        ax.text(v * 1.05, y, f"{v:.1f}", va="center", fontsize=9)
    ax.set_yticks(ys)
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xscale("log")
    ax.set_xlim(1, max(values) * 3)
    ax.set_xlabel("requests per phone per day (log); fewer is better")
    ax.grid(True, axis="x", which="both", alpha=0.3)
    ax.set_title("Requests per day (cargo bench --bench requests_per_day)", fontsize=12)
    fig.tight_layout()
    fig.savefig(out / "requests_per_day.png", dpi=80)
    plt.close(fig)


def main():
    src, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    requests_only = sys.argv[3:] == ["--requests-only"]
    rpd = json.loads((src / "requests_per_day.json").read_text())
    drift_day(rpd, out)
    requests_per_day(rpd, out)
    written = ["drift_day.png", "requests_per_day.png"]
    if not requests_only:
        accuracy_cdf(json.loads((src / "accuracy.json").read_text()), out)
        written.insert(0, "accuracy_cdf.png")
    for name in written:
        print(f"plots: wrote {out / name}")


if __name__ == "__main__":
    main()
