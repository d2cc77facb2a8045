"""Shared task plumbing: the Item record and the deterministic, prompt-disjoint train/val/test split."""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable

MAX_PROMPT_CHARS = 48
MAX_ANSWER_CHARS = 64
SPLITS = ("train", "val", "test")


class TaskError(ValueError):
    """Bad task input (unknown split/task, over-long item)."""


@dataclass(frozen=True)
class Item:
    task: str
    prompt: str          # raw prompt text; the task template turns it into model input text
    answer: str          # worked solution followed by the final answer ("...#306")
    meta: dict = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class SplitSizes:
    train: int
    test: int

    @property
    def val(self) -> int:
        # val is for calibration only: 20 % of train's size.
        return max(1, self.train // 5)


def split_items(name: str, pool_fn: Callable[[random.Random], Item | None], sizes: SplitSizes,
                split: str, seed: int, limit: int | None = None) -> list[Item]:
    """Draw unique-prompt items from one seeded stream: test first, then val, then train.

    Drawing all splits from one stream and deduplicating by prompt guarantees the splits never
    overlap, and fixing the order makes every split reproducible on its own. `limit` returns the
    first `limit` items of the split (identical to a prefix of the full split).
    """
    if split not in SPLITS:
        raise TaskError(f"unknown split {split!r}; expected one of {SPLITS}")
    rng = random.Random(seed)
    seen: set[str] = set()
    want = {"test": sizes.test, "val": sizes.val, "train": sizes.train}
    if limit is not None:  # a prefix of the full split: earlier splits are still drawn first
        want[split] = min(want[split], limit)
    out: dict[str, list[Item]] = {s: [] for s in ("test", "val", "train")}
    misses = 0
    for s in ("test", "val", "train"):
        while len(out[s]) < want[s]:
            item = pool_fn(rng)
            if item is None or item.prompt in seen:
                misses += 1
                if misses > 50 * (sum(want.values()) + 100):
                    raise TaskError(f"task {name}: cannot draw {want[s]} unique {s} items")
                continue
            if len(item.prompt) > MAX_PROMPT_CHARS or len(item.answer) > MAX_ANSWER_CHARS:
                raise TaskError(f"task {name}: item too long ({len(item.prompt)}/{len(item.answer)} chars)")
            seen.add(item.prompt)
            out[s].append(item)
        if s == split:
            return out[s]
    return out[split]


def final_answer(text: str) -> str | None:
    """The text after the last '#', or None when there is no '#'."""
    if "#" not in text:
        return None
    return text.rsplit("#", 1)[1].strip()
