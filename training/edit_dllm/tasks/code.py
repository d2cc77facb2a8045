"""Python line completion built from the standard-library source files on this machine.

Prompt: the tail of the previous line, a newline, and the start of the current line (both without
indentation), at most 48 chars. Answer: the rest of the current line, at most 24 chars, whose every
identifier already occurs in the prompt: the completions an editor can predict from what is on the
screen (`self.x = ` -> `x`, closing arguments, repeated calls). A 0.8 M-parameter char model cannot
know the names a line introduces, so lines that need them are left out (exact match on them was 0 %).
No worked solution: the whole generated text is the answer. Checker: exact match after stripping
trailing whitespace.

Only single-line statements (from `ast`) that are not docstrings are used, so prompts are code.
"""
from __future__ import annotations

import ast
import functools
import glob
import os
import random
import re
import sysconfig

from .base import MAX_PROMPT_CHARS, Item, SplitSizes, split_items

NAME = "code"
TEMPLATE = "P:{prompt}"
SEED = 4004
SIZES = SplitSizes(train=12000, test=1000)  # ~19k distinct items pass the filter below
MAX_REST = 24
# A fixed interpreter's stdlib keeps the data identical across machines; fall back to ours.
PREFERRED_STDLIB = "/root/.pyenv/versions/3.11.7/lib/python3.11"
BREAK_AFTER = " (.=,["
PRINTABLE = {chr(c) for c in range(32, 127)}
IDENT = re.compile(r"[A-Za-z_]\w*")


def stdlib_dir() -> str:
    return PREFERRED_STDLIB if os.path.isdir(PREFERRED_STDLIB) else sysconfig.get_paths()["stdlib"]


@functools.lru_cache(maxsize=1)
def _candidates() -> list[tuple[str, str]]:
    """(previous line, current line) pairs, both stripped, in a fixed order."""
    pairs: list[tuple[str, str]] = []
    for path in sorted(glob.glob(os.path.join(stdlib_dir(), "*.py"))):
        try:
            with open(path, encoding="utf-8") as f:
                src = f.read()
            tree = ast.parse(src)
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        lines = src.split("\n")
        rows = set()
        for node in ast.walk(tree):
            if not isinstance(node, ast.stmt) or node.lineno != node.end_lineno:
                continue
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
                continue  # docstrings are prose, not code
            rows.add(node.lineno - 1)
        for i in sorted(rows):
            cur, prev = lines[i].strip(), lines[i - 1].strip() if i > 0 else ""
            if 12 <= len(cur) <= 90 and set(cur + prev) <= PRINTABLE and "#" not in cur:
                pairs.append((prev, cur))
    return pairs


def _draw(rng: random.Random) -> Item | None:
    cands = _candidates()
    prev, cur = cands[rng.randrange(len(cands))]
    cuts = [i + 1 for i, ch in enumerate(cur) if ch in BREAK_AFTER and 4 <= i + 1 <= len(cur) - 4]
    cuts = [c for c in cuts if len(cur) - c <= MAX_REST and c + 1 <= MAX_PROMPT_CHARS]
    if not cuts:
        return None
    cut = rng.choice(cuts)
    prefix, rest = cur[:cut], cur[cut:]
    room = MAX_PROMPT_CHARS - len(prefix) - 1
    prompt = (prev[-room:] if room > 0 else "") + "\n" + prefix
    if prompt.endswith(" ") and rest.startswith(" "):
        return None
    if not all(name in prompt for name in IDENT.findall(rest)):
        return None  # the completion needs a name the context does not show
    return Item(NAME, prompt, rest, {})


def generate(split: str, limit: int | None = None) -> list[Item]:
    return split_items(NAME, _draw, SIZES, split, SEED, limit)


def extract_answer(text: str) -> str | None:
    return text.split("\n", 1)[0]


def check(item: Item, generated: str) -> bool:
    got = extract_answer(generated)
    return got is not None and got.rstrip() == item.answer.rstrip()
