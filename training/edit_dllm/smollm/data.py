"""Python source every machine of this kind has (the running interpreter's standard library), split by
package so that no test file is seen in training, and the four training/eval patterns.

Split: whole top-level packages are held out (TEST_PACKAGES, VAL_PACKAGES); every other stdlib file
(tests and the IDLE test suite excluded) trains. SmolLM2 was pretrained on The Stack, which contains
CPython, so "held out" means held out from *this* adaptation, not unseen by the base model; the AR
peer has the same advantage, so the comparison stays fair.

Patterns (each is a choice of which positions of a token window are the "response" the model must
produce; LLaDA SFT masks each response token with probability t ~ U(0,1) and weights the loss 1/t):
- `denoise`: the whole window is the response (pretraining-style random masking);
- `rest_of_line` / `span`: a prefix is given, the response is the next `gen` tokens (the rest of the
  current line and what follows; at inference the text is cut at the line end / after 2-3 lines);
- `infill`: prefix + response + suffix, the suffix visible (bidirectional attention sees it).
"""
from __future__ import annotations

import random
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TEST_PACKAGES = ("email", "http", "urllib", "xml")
VAL_PACKAGES = ("logging", "json", "concurrent")
SKIP_PARTS = ("test", "tests", "idle_test", "site-packages", "dist-packages", "__pycache__")


def stdlib_dir() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def split_of(rel: Path) -> str:
    top = rel.parts[0].removesuffix(".py")
    if top in TEST_PACKAGES:
        return "test"
    if top in VAL_PACKAGES:
        return "val"
    return "train"


def source_files(root: Path | None = None) -> dict[str, list[Path]]:
    """{'train'|'val'|'test': sorted file list}; sorted so every machine with the same Python gets the same split."""
    root = root or stdlib_dir()
    out: dict[str, list[Path]] = {"train": [], "val": [], "test": []}
    for f in sorted(root.rglob("*.py")):
        rel = f.relative_to(root)
        if any(p in SKIP_PARTS or p.startswith("test_") for p in rel.parts):
            continue
        out[split_of(rel)].append(f)
    if not out["train"] or not out["test"]:
        raise FileNotFoundError(f"no Python sources found under {root} (expected the standard library with "
                                f"the packages {', '.join(TEST_PACKAGES)} for the test split)")
    return out


def read_text(f: Path) -> str:
    return f.read_text(encoding="utf-8", errors="replace")


def token_stream(files: list[Path], tok, cache: Path | None = None) -> np.ndarray:
    """All files tokenized and concatenated (each file followed by <|endoftext|> id 0, as in pretraining
    on concatenated files), int32; cached as .npy when `cache` is given."""
    if cache is not None and cache.exists():
        return np.load(cache)
    eot = tok.convert_tokens_to_ids("<|endoftext|>")
    parts = []
    for f in files:
        ids = tok(read_text(f), add_special_tokens=False)["input_ids"]
        parts.append(np.asarray(ids + [eot], dtype=np.int32))
    arr = np.concatenate(parts)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, arr)
    return arr


PATTERNS = ("denoise", "rest_of_line", "span", "infill")


@dataclass(frozen=True)
class Example:
    ids: np.ndarray       # [L] int64 window
    response: np.ndarray  # [L] bool: positions the model must produce (masked with prob t in training)
    pattern: str


def make_example(stream: np.ndarray, rng: random.Random, length: int, gen: int, pattern: str) -> Example:
    """One training window. `gen` = response length for the completion/infill patterns."""
    start = rng.randrange(0, len(stream) - length)
    ids = stream[start:start + length].astype(np.int64)
    resp = np.zeros(length, dtype=bool)
    if pattern == "denoise":
        resp[:] = True
    elif pattern in ("rest_of_line", "span"):
        resp[length - gen:] = True          # prefix = the first length - gen tokens
    elif pattern == "infill":
        suffix = rng.randrange(gen // 2, 2 * gen + 1)
        a = length - gen - suffix
        resp[a:a + gen] = True
    else:
        raise ValueError(f"unknown pattern {pattern!r}; expected one of {PATTERNS}")
    return Example(ids, resp, pattern)


def mask_batch(examples: list[Example], rng: np.random.Generator, mask_id: int, eps: float = 1e-3):
    """LLaDA's forward process on the responses: t ~ U(eps, 1) per sequence, each response token masked
    with probability t (at least one). Returns (noisy ids, target ids, masked bool, weight 1/t per row)."""
    ids = np.stack([e.ids for e in examples])
    resp = np.stack([e.response for e in examples])
    t = eps + (1 - eps) * rng.random(len(examples))
    masked = resp & (rng.random(ids.shape) < t[:, None])
    for i in range(len(examples)):       # a sequence with nothing masked carries no loss: mask one token
        if not masked[i].any():
            masked[i, rng.choice(np.flatnonzero(resp[i]))] = True
    noisy = np.where(masked, mask_id, ids)
    return noisy, ids, masked, 1.0 / t
