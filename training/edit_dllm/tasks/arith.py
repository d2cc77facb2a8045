"""Multi-step integer arithmetic (GSM-like, word-free): "347+085-126" -> worked steps -> "#0306".

Formats (chosen so each character is predictable from characters at fixed offsets, see FACTS.md;
the model has learned absolute positions, so fixed widths turn copying into fixed-offset lookups):
- prompt: 2-3 digit numbers, each written with 3 digits (zero-padded): "347+085-126";
- answer: one 19-character step per operation, "a+b:ccc=r;", with a, b and r 4-digit, zero-padded,
  digit-REVERSED, and ccc the carries (borrows for '-') into digits 1-3, also units first:
  "7430+5800:110=2340;2340-6210:100=6030;#0306". Result digit i depends only on a_i, b_i and the
  carry into digit i, and that carry only on a_{i-1}, b_{i-1} and the carry before it, all at fixed
  offsets in the same step (the ':' stands where a carry into digit 0 would be). Without the
  written carries a 0.87 M-parameter model copied operands perfectly but never learned the carry
  chain (0 % after 12,000 refine steps). The final answer after '#' is the value in plain (not
  reversed) order, zero-padded to 4 digits. The checker reads it as an integer, so "#306" is
  right too.
"""
from __future__ import annotations

import random

from .base import Item, SplitSizes, final_answer, split_items

NAME = "arith"
TEMPLATE = "A:{prompt}="
SEED = 1001
SIZES = SplitSizes(train=20000, test=1000)
WIDTH = 4         # operand width in the worked steps
PROMPT_WIDTH = 3  # operand width in the prompt


def _rev(n: int) -> str:
    return str(n).zfill(WIDTH)[::-1]


def _num(n: int) -> str:
    return str(n).zfill(PROMPT_WIDTH)


def carries(a: int, op: str, b: int) -> str:
    """Carries (op '+') or borrows (op '-') into digits 1..WIDTH-1 of a op b, units first."""
    out, c = [], 0
    for i in range(WIDTH - 1):
        da, db = a // 10 ** i % 10, b // 10 ** i % 10
        c = int(da + db + c >= 10) if op == "+" else int(da - db - c < 0)
        out.append(str(c))
    return "".join(out)


def worked(numbers: list[int], ops: list[str]) -> str:
    acc = numbers[0]
    steps = []
    for op, b in zip(ops, numbers[1:]):
        res = acc + b if op == "+" else acc - b
        steps.append(f"{_rev(acc)}{op}{_rev(b)}:{carries(acc, op, b)}={_rev(res)};")
        acc = res
    return "".join(steps) + f"#{str(acc).zfill(WIDTH)}"


def _draw(rng: random.Random) -> Item | None:
    n_ops = rng.choice((2, 3))
    numbers = [rng.randint(10, 999) for _ in range(n_ops + 1)]
    ops = [rng.choice("+-") for _ in range(n_ops)]
    acc = numbers[0]
    for op, b in zip(ops, numbers[1:]):
        acc = acc + b if op == "+" else acc - b
        if acc < 0:  # keep every intermediate result non-negative (the format has no sign)
            return None
    prompt = _num(numbers[0]) + "".join(f"{op}{_num(b)}" for op, b in zip(ops, numbers[1:]))
    return Item(NAME, prompt, worked(numbers, ops), {"value": acc})


def generate(split: str, limit: int | None = None) -> list[Item]:
    return split_items(NAME, _draw, SIZES, split, SEED, limit)


def extract_answer(text: str) -> str | None:
    return final_answer(text)


def check(item: Item, generated: str) -> bool:
    ans = extract_answer(generated)
    if ans is None or not ans.isdigit():
        return False
    # Value of the prompt expression, evaluated here rather than trusted from meta.
    return int(ans) == _evaluate(item.prompt)


def _evaluate(prompt: str) -> int:
    total, num, sign = 0, "", 1
    for ch in prompt + "+":
        if ch.isdigit():
            num += ch
        else:
            total += sign * int(num)
            num, sign = "", (1 if ch == "+" else -1)
    return total
