"""Code-completion evaluation on held-out stdlib packages (data.TEST_PACKAGES): the AR SmolLM2 itself
(greedy, KV cache; the peer a user would otherwise run, e.g. in llama.vscode) against the adapted
masked-diffusion model, on three tasks:

- `rest_of_line`: cursor inside a line, right after a non-word character; target = the rest of the line;
- `span`: cursor at the start of a line's code (indentation in the prefix); target = 2-3 lines;
- `infill`: as rest_of_line, plus the following lines as a visible suffix (the AR peer cannot use it).

Metrics: exact match (trailing whitespace ignored) and edit similarity 1 - lev(pred, target) / max(len)
(character Levenshtein, as in the code-completion literature, e.g. CodeXGLUE / RepoBench), forwards and
wall seconds per completion. The prefix is the last `ctx` tokens before the cursor; items whose file has
fewer are skipped so every prefix has the same length (batching without pads).

dLLM decoding: `gen` masks after the prefix (infill: exactly the target's token count, an oracle length:
said so in every report), one forward per step committing the `k` most confident masked positions (LLaDA's
low-confidence remasking), stopping as soon as the answer is settled: every position up to the needed
line end is committed (the editor's "stop at the line end").
"""
from __future__ import annotations

import argparse
import json
import random
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from .data import read_text, source_files

TASKS = ("rest_of_line", "span", "infill")


@dataclass(frozen=True)
class Item:
    task: str
    prefix_ids: list[int]
    target: str
    suffix_ids: list[int]
    target_ids: list[int]
    lines: int            # line ends the answer needs (1 = up to the end of the current line)
    where: str


def edit_similarity(a: str, b: str) -> float:
    """1 - Levenshtein(a, b) / max(len(a), len(b)); 1.0 for two empty strings. Hand-written (a dozen
    lines) rather than a new dependency."""
    if not a and not b:
        return 1.0
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return 1.0 - prev[-1] / max(len(a), len(b))


def cut_lines(text: str, lines: int) -> str:
    """The text up to (not including) its `lines`-th newline."""
    parts = text.split("\n")
    return "\n".join(parts[:lines])


def exact(pred: str, target: str) -> bool:
    return pred.rstrip() == target.rstrip()


CURSOR_AFTER = re.compile(r"[ .(\[=,:]")


def make_items(tok, task: str, n: int, ctx: int = 96, seed: int = 7, split: str = "test",
               suffix_tokens: int = 32) -> list[Item]:
    files = source_files()[split]
    rng = random.Random(f"{seed}:{task}")
    items: list[Item] = []
    tries = 0
    while len(items) < n and tries < 200 * n:
        tries += 1
        f = rng.choice(files)
        text = read_text(f)
        lines = text.split("\n")
        li = rng.randrange(len(lines))
        line = lines[li]
        body = line.lstrip()
        if len(body) < 12 or body.startswith("#") or body.startswith(('"""', "'''")):
            continue
        indent = len(line) - len(body)
        if task == "span":
            k = rng.choice((2, 3))
            span = lines[li:li + k]
            if len(span) < k or any(not s.strip() for s in span):
                continue
            cut = indent
            target = "\n".join(span)[cut:]
            need = k
        else:
            cands = [i for i in range(indent + 1, len(line) - 4) if CURSOR_AFTER.match(line[i - 1]) and line[i] != " "]
            if not cands:
                continue
            cut = rng.choice(cands)
            target = line[cut:]
            need = 1
        start = sum(len(x) + 1 for x in lines[:li])
        prefix_text = text[:start + cut]
        pids = tok(prefix_text, add_special_tokens=False)["input_ids"]
        if len(pids) < ctx:
            continue
        tids = tok(target, add_special_tokens=False)["input_ids"]
        if len(tids) > 48:
            continue
        sids: list[int] = []
        if task == "infill":
            rest = text[start + len(line):]   # starts with the newline that ends the target line
            sids = tok(rest, add_special_tokens=False)["input_ids"][:suffix_tokens]
            if len(sids) < suffix_tokens:
                continue
        items.append(Item(task, pids[-ctx:], target, sids, tids, need, f"{f.name}:{li + 1}"))
    return items


# ---- the AR peer -------------------------------------------------------------------------------

@torch.no_grad()
def ar_complete(model, tok, item: Item, max_new: int = 64) -> tuple[str, int]:
    """Greedy decoding with the KV cache until the needed line ends appear; returns (text, forwards).
    For infill the AR model sees only the prefix (it cannot use the suffix)."""
    ids = torch.tensor([item.prefix_ids])
    out = model(ids, use_cache=True)
    past, gen = out.past_key_values, []
    fwd = 1
    for _ in range(max_new):
        nxt = int(out.logits[0, -1].argmax())
        gen.append(nxt)
        text = tok.decode(gen)
        if text.count("\n") >= item.lines or nxt in (tok.eos_token_id, 0):
            break
        out = model(torch.tensor([[nxt]]), past_key_values=past, use_cache=True)
        past = out.past_key_values
        fwd += 1
    return cut_lines(tok.decode([g for g in gen if g not in (0, tok.eos_token_id)]), item.lines), fwd


# ---- the masked-diffusion model ------------------------------------------------------------------

@torch.no_grad()
def dllm_complete(mdm, tok, item: Item, gen: int, k: int = 1) -> tuple[str, int]:
    """Confidence decoding (LLaDA low-confidence remasking, k per forward) with the line-end stop."""
    mid = mdm.mask_id
    g = len(item.target_ids) if item.task == "infill" else gen
    seq = torch.tensor([item.prefix_ids + [mid] * g + item.suffix_ids])
    a = len(item.prefix_ids)
    fwd = 0
    while True:
        masked = seq[0, a:a + g] == mid
        if not masked.any():
            break
        rows = torch.zeros_like(seq, dtype=torch.bool)
        rows[0, a:a + g] = True
        logits = mdm(seq, rows=rows).float()            # [g, V]
        probs = logits.softmax(-1)
        conf, x0 = probs.max(-1)
        conf = torch.where(masked, conf, torch.full_like(conf, -1.0))
        take = conf.topk(min(k, int(masked.sum()))).indices
        seq[0, a + take] = x0[take]
        fwd += 1
        if item.task != "infill" and _settled(tok, seq[0, a:a + g].tolist(), mid, item.lines):
            break
    out = seq[0, a:a + g].tolist()
    text = tok.decode([i for i in out if i not in (mid, 0, tok.eos_token_id)])
    return cut_lines(text, item.lines) if item.task != "infill" else text.split("\n")[0], fwd


def _settled(tok, ids: list[int], mid: int, lines: int) -> bool:
    """True when the positions up to the `lines`-th newline are all committed (nothing after matters)."""
    seen = 0
    for i in ids:
        if i == mid:
            return False
        seen += tok.decode([i]).count("\n")
        if seen >= lines:
            return True
    return False


def score(preds: list[tuple[str, int, float]], items: list[Item]) -> dict:
    em = [exact(p, it.target) for (p, _, _), it in zip(preds, items)]
    es = [edit_similarity(p.rstrip(), it.target.rstrip()) for (p, _, _), it in zip(preds, items)]
    return {"n": len(items), "exact": round(100 * sum(em) / len(items), 1),
            "edit_sim": round(100 * sum(es) / len(items), 1),
            "forwards": round(sum(f for _, f, _ in preds) / len(items), 2),
            "seconds": round(sum(s for _, _, s in preds) / len(items), 3)}


def run(kind: str, tasks, n: int, ctx: int, base: Path, ckpt: Path | None, out: Path, k: int = 1,
        threads: int = 1, log=print) -> dict:
    from .load import load_base
    torch.set_num_threads(threads)
    model, tok = load_base(base, bidirectional=(kind == "dllm"))
    if kind == "dllm":
        from .adapt import AdaptConfig, MaskedDiffusionLM
        from .load import mask_id
        state = torch.load(ckpt, weights_only=False)
        mdm = MaskedDiffusionLM(model, mask_id(tok), AdaptConfig(**state["config"]["adapt"]))
        mdm.load_trainable_state(state["trainable"])
        mdm.eval()
    results = {"kind": kind, "ckpt": str(ckpt) if ckpt else None, "ctx": ctx, "k": k, "threads": threads,
               "tokens_trained": None if kind == "ar" else state["tokens"], "tasks": {}}
    gens = {"rest_of_line": 16, "span": 32, "infill": 0}
    for task in tasks:
        items = make_items(tok, task, n, ctx)
        preds, rows = [], []
        for it in items:
            t0 = time.time()
            if kind == "ar":
                text, fwd = ar_complete(model, tok, it)
            else:
                text, fwd = dllm_complete(mdm, tok, it, gens[task], k)
            preds.append((text, fwd, time.time() - t0))
            rows.append({"where": it.where, "target": it.target, "pred": text, "forwards": fwd})
        results["tasks"][task] = score(preds, items)
        results["tasks"][task]["examples"] = rows
        log(task, {k2: v for k2, v in results["tasks"][task].items() if k2 != "examples"})
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n")
    return results


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="held-out code completion: AR SmolLM2 vs the adapted dLLM")
    ap.add_argument("kind", choices=("ar", "dllm"))
    ap.add_argument("--ckpt", type=Path, help="dllm: train.py checkpoint.pt")
    ap.add_argument("--base", type=Path, default=Path("runs/smollm/base"))
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--n", type=int, default=24)
    ap.add_argument("--ctx", type=int, default=96)
    ap.add_argument("--k", type=int, default=1, help="dllm: tokens committed per forward")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args(argv)
    if a.kind == "dllm" and a.ckpt is None:
        ap.error("dllm needs --ckpt (a train.py checkpoint.pt)")
    run(a.kind, a.tasks.split(","), a.n, a.ctx, a.base, a.ckpt, a.out, a.k, a.threads,
        log=lambda *m: print(*m, flush=True))


if __name__ == "__main__":
    main()
