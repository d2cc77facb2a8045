"""curve.jsonl (train.py) -> a markdown table of the evaluation points and the throughput.

    python -m edit_dllm.smollm.curve runs/smollm/adapt/curve.jsonl
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def load(path: Path) -> list[dict]:
    rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    by_step: dict[int, dict] = {}
    for r in rows:            # a resumed run rewrites the steps after its checkpoint: keep the last
        by_step[r["step"]] = r
    return [by_step[s] for s in sorted(by_step)]


def table(rows: list[dict]) -> str:
    out = ["| step | tokens | rest-of-line val loss | rest-of-line 1-forward acc | infill val loss | infill 1-forward acc |",
           "|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        e = r.get("eval")
        if e:
            out.append(f"| {r['step']} | {r['tokens']:,} | {e['rest_of_line_loss']:.2f} | {100 * e['rest_of_line_acc1']:.1f} % "
                       f"| {e['infill_loss']:.2f} | {100 * e['infill_acc1']:.1f} % |")
    timed = [r for r in rows if "s" in r]
    if timed:
        secs = sum(r["s"] for r in timed)
        toks = sum(r["tokens"] - p["tokens"] for p, r in zip(rows, rows[1:]) if "s" in r)
        out.append("")
        out.append(f"{len(timed)} steps timed, {secs / 60:.1f} min of training steps (evaluations excluded): "
                   f"{secs / len(timed):.1f} s/step, {toks / secs:.0f} tokens/s.")
    return "\n".join(out)


if __name__ == "__main__":
    print(table(load(Path(sys.argv[1]))))
