"""Figures of docs/evaluation.md from `edit-dllm eval`'s eval.json (PNG and SVG).

    python -m edit_dllm.plots --eval ../eval/edit-tiny-char/eval.json --out ../docs/figures [--split test]

- pareto.{png,svg}: accuracy vs average forwards per block, one panel per task; every configuration of
  every rule as a faint point, each rule family's Pareto front as a line, the fixed-N baseline as a
  line, full and the oracle as markers, the default chosen on val circled.
- dt.{png,svg}: D_t along the full run per task, per block and per series (paper rule at each tau,
  released rule), as box plots built from the recorded quantiles (whiskers 5 % / 95 %), log scale,
  with the paper's delta = 0.05 drawn.
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"edit": "tab:blue", "edit-released": "tab:purple", "confidence": "tab:green", "jot": "tab:olive",
          # issue 14: the newer peers, EDIT's per-token signal, composed policies, the commit-rule oracle
          "less": "tab:pink", "klass": "tab:brown", "eb-sampler": "tab:red", "stable-confident": "tab:cyan",
          "sched": "tab:orange", "edit-cos": "navy", "composed": "magenta", "commit-oracle": "gold"}
# The peers figure (pareto-peers.*) leaves out EDIT's block-rule sweeps, which crowd the low-forward corner.
PEER_FIGURE_SKIP = ("edit", "edit-released")
TAU_COLORS = ["tab:blue", "tab:cyan", "tab:orange", "tab:red", "tab:brown"]


def _family_key(c: dict) -> str:
    """edit splits by tau; fixed by polish."""
    if c["family"] == "edit":
        return f"edit tau={c['params']['tau']}"
    if c["family"] == "fixed":
        return f"fixed p={c['params']['polishSteps']}"
    return c["family"]


def pareto_front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out, best = [], -math.inf
    for x, y in sorted(points, key=lambda p: (p[0], -p[1])):
        if y > best:
            out.append((x, y))
            best = y
    return out


def _panels(n: int):
    cols = min(2, n)
    rows = max(1, math.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(6.2 * cols, 4.4 * rows), squeeze=False)
    return fig, [ax for row in axes for ax in row]


def plot_pareto(summary: dict, split: str, out: Path, skip: tuple[str, ...] = (), name: str = "pareto") -> list[Path]:
    tasks = summary["splits"][split]
    fig, axes = _panels(len(tasks))
    taus = sorted({c["params"]["tau"] for t in tasks.values() for c in t["configs"] if c["family"] == "edit"}, reverse=True)
    for ax, (task, t) in zip(axes, tasks.items()):
        groups: dict[str, list[dict]] = {}
        for c in t["configs"]:
            if c["family"] != "calibrated" and c["family"] not in skip:
                groups.setdefault(_family_key(c), []).append(c)
        for key, cs in groups.items():
            pts = [(c["forwardsPerBlock"], 100 * c["accuracy"]) for c in cs]
            if key.startswith("fixed"):
                pts.sort()
                style = "-" if key.endswith("p=0") else "--"
                ax.plot(*zip(*pts), style, color="black", lw=1.4, marker=".", ms=4, label=f"fixed N, polish {key[-1]}")
                continue
            if key.startswith("edit tau="):
                color = TAU_COLORS[taus.index(float(key.split("=")[1])) % len(TAU_COLORS)]
            else:
                color = COLORS.get(key, "gray")
            ax.scatter(*zip(*pts), s=9, color=color, alpha=0.25, lw=0)
            front = pareto_front(pts)
            ax.plot(*zip(*front), "-o", color=color, lw=1.3, ms=3, label=key)
        full, oracle = t["full"], t["oracle"]
        ax.scatter([full["forwardsPerBlock"]], [100 * full["accuracy"]], marker="s", s=50, color="black", zorder=5, label="full")
        ax.scatter([oracle["forwardsPerBlock"]], [100 * oracle["accuracy"]], marker="*", s=140, color="gold",
                   edgecolor="black", zorder=6, label="oracle")
        cal = next((c for c in t["configs"] if c["family"] == "calibrated"), None)
        if cal:
            ax.scatter([cal["forwardsPerBlock"]], [100 * cal["accuracy"]], marker="D", s=40, color="white",
                       edgecolor="tab:blue", zorder=6, label="bundle.json (calibrated)")
        choice = summary.get("choices", {}).get(task)
        if choice:
            c = next((c for c in t["configs"] if c["id"] == choice["config"]), None)
            if c:
                ax.scatter([c["forwardsPerBlock"]], [100 * c["accuracy"]], s=160, facecolor="none", edgecolor="red",
                           lw=1.6, zorder=7, label=f"default (val): {choice['config']}")
        ax.set_title(f"{task} ({split}, {t['items']} items)")
        ax.set_xlabel("average forwards per block")
        ax.set_ylabel("accuracy (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6.5, loc="lower right")
    for ax in axes[len(tasks):]:
        ax.axis("off")
    fig.suptitle(f"{summary['bundle']}: accuracy vs forwards (budget {summary['budget']} per block)")
    fig.tight_layout()
    return _save(fig, out / name)


def plot_dt(summary: dict, split: str, out: Path) -> list[Path]:
    tasks = summary["splits"][split]
    fig, axes = _panels(len(tasks))
    for ax, (task, t) in zip(axes, tasks.items()):
        stats, labels = [], []
        for d in sorted(t["dt"], key=lambda d: (d["block"], d["series"] == "released", d["series"])):
            q = d["quantiles"]
            if d["defined"] == 0 or any(v is None or (isinstance(v, float) and math.isnan(v)) for v in q):
                continue
            floor = 1e-18  # log scale: D_t can be exactly 0
            qq = [max(v, floor) for v in q]
            stats.append({"whislo": qq[1], "q1": qq[2], "med": qq[3], "q3": qq[4], "whishi": qq[5], "fliers": [qq[0], qq[6]],
                          "label": f"b{d['block']} {d['series']}"})
            labels.append(stats[-1]["label"])
        if stats:
            ax.bxp(stats, showfliers=True, flierprops={"marker": ".", "ms": 3})
            ax.set_yscale("log")
            ax.axhline(0.05, color="red", lw=1, ls="--", label="paper delta = 0.05")
            ax.tick_params(axis="x", labelrotation=60, labelsize=7)
            ax.legend(fontsize=7)
        ax.set_title(f"{task}: D_t along the full run ({split})")
        ax.set_ylabel("D_t (log)")
        ax.grid(alpha=0.3, axis="y")
    for ax in axes[len(tasks):]:
        ax.axis("off")
    fig.tight_layout()
    return _save(fig, out / "dt")


def _save(fig, stem: Path) -> list[Path]:
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    fig.savefig(paths[0], dpi=130)
    fig.savefig(paths[1])
    plt.close(fig)
    return paths


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eval", required=True, type=Path, help="eval.json written by `edit-dllm eval`")
    ap.add_argument("--out", required=True, type=Path, help="folder for pareto.{png,svg} and dt.{png,svg}")
    ap.add_argument("--split", default="test")
    a = ap.parse_args(argv)
    summary = json.loads(a.eval.read_text())
    if a.split not in summary["splits"]:
        raise SystemExit(f"{a.eval}: no split {a.split!r}; it has {sorted(summary['splits'])}")
    paths = plot_pareto(summary, a.split, a.out) + plot_dt(summary, a.split, a.out)
    families = {c["family"] for t in summary["splits"][a.split].values() for c in t["configs"]}
    if families & {"less", "klass", "eb-sampler", "stable-confident", "sched", "composed"}:
        paths += plot_pareto(summary, a.split, a.out, skip=PEER_FIGURE_SKIP, name="pareto-peers")
    for p in paths:
        print(f"wrote {p}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
