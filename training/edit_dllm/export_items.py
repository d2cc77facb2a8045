"""Export task items of a split as JSONL for the TypeScript bench / eval ({task, prompt, answer} per line).

    python -m edit_dllm.export_items --split test --limit 200 --out ../bench/items/test.jsonl
    python -m edit_dllm.export_items --split val  --limit 200 --out ../bench/items/val.jsonl

`--tasks` defaults to every task (arith, code, countdown, sudoku); `--limit` takes the first N items of
each task's split (a prefix of the full split, so a larger limit only appends). The splits are the
deterministic, prompt-disjoint ones of tasks/base.py: val is the calibration split, test is held out.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Iterable, Sequence

from .tasks import SPLITS, TASKS, get_task


def split_records(tasks: Iterable[str], split: str, limit: int | None) -> list[dict]:
    out = []
    for name in tasks:
        for item in get_task(name).generate(split, limit):
            out.append({"task": item.task, "prompt": item.prompt, "answer": item.answer})
    return out


def write_jsonl(records: Sequence[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", required=True, choices=SPLITS)
    ap.add_argument("--tasks", default=",".join(sorted(TASKS)), help="comma-separated task names")
    ap.add_argument("--limit", type=int, default=None, help="first N items per task")
    ap.add_argument("--out", required=True, type=Path)
    a = ap.parse_args(argv)
    tasks = [t.strip() for t in a.tasks.split(",") if t.strip()]
    for t in tasks:
        get_task(t)  # unknown task -> TaskError naming the known ones
    records = split_records(tasks, a.split, a.limit)
    write_jsonl(records, a.out)
    print(f"wrote {len(records)} {a.split} items ({', '.join(tasks)}) to {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
