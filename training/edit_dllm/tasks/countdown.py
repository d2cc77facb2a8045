"""Countdown: reach a target from 3-4 small numbers with + - * /, each number used exactly once.

Prompt "7 3 12>33": the numbers (listed in the order one solution uses them) and the target.
Answer: the worked steps, then the equation after '#': "7*3=21,21+12=33#(7*3)+12". Items come
from a random left-to-right expression, so a solution always exists; the checker accepts ANY
equation that uses each given number exactly once and evaluates to the target (exact fractions).
"""
from __future__ import annotations

import ast
import random
from collections import Counter
from fractions import Fraction

from .base import Item, SplitSizes, final_answer, split_items

NAME = "countdown"
TEMPLATE = "C:{prompt}="
SEED = 2002
SIZES = SplitSizes(train=20000, test=1000)


def _apply(a: int, op: str, b: int) -> int | None:
    if op == "+":
        return a + b
    if op == "-":
        return a - b if a - b > 0 else None
    if op == "*":
        return a * b if a * b <= 200 else None
    return a // b if b > 1 and a % b == 0 else None


def _draw(rng: random.Random) -> Item | None:
    n = 3 if rng.random() < 0.75 else 4
    numbers = [rng.randint(1, 9) if rng.random() < 0.6 else rng.randint(10, 25) for _ in range(n)]
    acc, expr, steps = numbers[0], str(numbers[0]), []
    for b in numbers[1:]:
        op = rng.choice("+-*/")
        res = _apply(acc, op, b)
        if res is None:
            return None
        steps.append(f"{acc}{op}{b}={res}")
        expr = f"({expr}){op}{b}" if steps[:-1] else f"{expr}{op}{b}"
        acc = res
    if acc > 999 or acc in numbers:
        return None
    prompt = " ".join(map(str, numbers)) + f">{acc}"
    return Item(NAME, prompt, ",".join(steps) + "#" + expr, {"numbers": numbers, "target": acc})


def generate(split: str, limit: int | None = None) -> list[Item]:
    return split_items(NAME, _draw, SIZES, split, SEED, limit)


def extract_answer(text: str) -> str | None:
    return final_answer(text)


def parse_prompt(prompt: str) -> tuple[list[int], int]:
    nums, target = prompt.split(">")
    return [int(x) for x in nums.split()], int(target)


def _eval(node: ast.AST, used: list[int]) -> Fraction:
    if isinstance(node, ast.Expression):
        return _eval(node.body, used)
    if isinstance(node, ast.Constant) and type(node.value) is int:
        used.append(node.value)
        return Fraction(node.value)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
        a, b = _eval(node.left, used), _eval(node.right, used)
        if isinstance(node.op, ast.Add):
            return a + b
        if isinstance(node.op, ast.Sub):
            return a - b
        if isinstance(node.op, ast.Mult):
            return a * b
        if b == 0:
            raise ZeroDivisionError
        return a / b
    raise ValueError("only integers, + - * / and parentheses are allowed")


def check(item: Item, generated: str) -> bool:
    eq = extract_answer(generated)
    if not eq:
        return False
    numbers, target = parse_prompt(item.prompt)
    used: list[int] = []
    try:
        value = _eval(ast.parse(eq, mode="eval"), used)
    except (SyntaxError, ValueError, ZeroDivisionError, RecursionError):
        return False
    return Counter(used) == Counter(numbers) and value == target
