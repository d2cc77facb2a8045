"""4x4 sudoku with 6-10 holes, checked by the sudoku rules (any valid completion counts).

Prompt: rows separated by '/', holes as '.': "1.34/34.2/2.43/4321".
Answer: '#' then the full grid, "#1234/3412/2143/4321". The grid is the worked solution: each cell
sits at a fixed offset from the same cell of the prompt, so givens are copied and holes deduced from
their row, column and box (a fill list before the grid, as in earlier versions, put the grid at a
variable offset and the model never learned it). The checker also accepts text before the '#'.
"""
from __future__ import annotations

import itertools
import random

from .base import Item, SplitSizes, final_answer, split_items

NAME = "sudoku"
TEMPLATE = "S:{prompt}="
SEED = 3003
SIZES = SplitSizes(train=20000, test=1000)


def _all_grids() -> list[str]:
    rows = ["".join(p) for p in itertools.permutations("1234")]
    grids = [""]
    for _ in range(4):  # extend row by row, keeping only prefixes whose columns/boxes are distinct
        grids = [g + r for g in grids for r in rows if _ok_prefix(g + r)]
    return grids


def _ok_prefix(g: str) -> bool:
    n = len(g) // 4
    cols_ok = all(len({g[4 * r + c] for r in range(n)}) == n for c in range(4))
    boxes_ok = n % 2 or all(len({g[4 * (n - 2 + r) + bc + c] for r in range(2) for c in range(2)}) == 4
                            for bc in (0, 2))
    return cols_ok and boxes_ok


def is_solved(g: str) -> bool:
    if len(g) != 16 or set(g) - set("1234"):
        return False
    groups = [[4 * r + c for c in range(4)] for r in range(4)]
    groups += [[4 * r + c for r in range(4)] for c in range(4)]
    groups += [[4 * (br + r) + bc + c for r in range(2) for c in range(2)] for br in (0, 2) for bc in (0, 2)]
    return all(len({g[i] for i in grp}) == 4 for grp in groups)


_GRIDS = _all_grids()  # the 288 valid 4x4 grids


def _fmt(g: str) -> str:
    return "/".join(g[i:i + 4] for i in range(0, 16, 4))


def _draw(rng: random.Random) -> Item | None:
    g = rng.choice(_GRIDS)
    holes = sorted(rng.sample(range(16), rng.randint(6, 10)))
    puzzle = "".join("." if i in holes else ch for i, ch in enumerate(g))
    return Item(NAME, _fmt(puzzle), "#" + _fmt(g), {"solution": g})


def generate(split: str, limit: int | None = None) -> list[Item]:
    return split_items(NAME, _draw, SIZES, split, SEED, limit)


def extract_answer(text: str) -> str | None:
    return final_answer(text)


def check(item: Item, generated: str) -> bool:
    ans = extract_answer(generated)
    if ans is None:
        return False
    grid = ans.replace("/", "")
    puzzle = item.prompt.replace("/", "")
    if not is_solved(grid):
        return False
    return all(p == "." or p == c for p, c in zip(puzzle, grid))
