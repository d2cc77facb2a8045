"""SmolLM2 bundle per dtype, measured side by side in one run: size, speed, top-1 agreement with fp32.

    python -m edit_dllm.smollm.dtypes [--bundle ../models/smollm2-135m-dllm] [--out ../bench/smollm-dtypes.json]
        [--sweep]   # also the int4 settings sweep (block size, symmetric, accuracy level, head, embedding)
                    # on the first 4 windows (512 scored tokens), speed at 1 thread

The fp32 bundle is `npm run build:smollm`; fp16 / int8 / int4 are converted here from the same adapted
checkpoint (training/runs/smollm/adapted, convert.py) into models/smollm2-135m-dllm-<dtype>/ (git-ignored).

- size: model.onnx (+ .data) bytes;
- first forward: a 1,024-token context plus a 32-token masked block, no past (ms, the session's first run);
- cached forward: the 32-token block against the 1,024 tokens' K/V (the prefix cache), median of 10;
  both at 1 and 2 intra-op threads, ONNX Runtime CPU;
- top-1 agreement with fp32 on held-out code (smollm/data.py's test split: email, http, urllib, xml):
  16 windows of 128 visible tokens + 128 masked ones, argmax of the masked rows compared (2,048 tokens).
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
CTX, BLOCK = 1024, 32
# Agreement: WINDOWS windows of VISIBLE code tokens followed by MASKED masked ones (2,048 scored tokens).
WINDOWS, VISIBLE, MASKED, SWEEP_WINDOWS = 16, 128, 128, 4


def _session(path: Path, threads: int):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def _feeds(sess, ids: np.ndarray, pos: np.ndarray, want: tuple[int, int], past: list[np.ndarray] | None):
    feeds = {"input_ids": ids.astype(np.int64), "position_ids": pos.astype(np.int64), "want": np.array(want, np.int64)}
    for i in sess.get_inputs():
        if i.name.startswith("past_"):
            dt = np.float16 if i.type == "tensor(float16)" else np.float32
            layer, kind = int(i.name.split(".")[1]), i.name.split(".")[0] == "past_key"
            if past is None:
                feeds[i.name] = np.zeros((1, i.shape[1], 0, i.shape[3]), dt)
            else:
                feeds[i.name] = past[2 * layer + (0 if kind else 1)].astype(dt)
    return feeds


def held_out_windows(tok_file: Path, mask_id: int, seed: int = 0) -> list[np.ndarray]:
    from tokenizers import Tokenizer
    from .data import read_text, source_files
    tok = Tokenizer.from_file(str(tok_file))
    files = source_files()["test"]
    stream = np.concatenate([np.asarray(tok.encode(read_text(f), add_special_tokens=False).ids, np.int64)
                             for f in files[:40]])
    rng = np.random.default_rng(seed)
    starts = rng.choice(len(stream) - VISIBLE - MASKED, WINDOWS, replace=False)
    return [stream[s: s + VISIBLE + MASKED].copy() for s in sorted(starts)]


def argmax_rows(path: Path, windows: list[np.ndarray], mask_id: int) -> np.ndarray:
    sess = _session(path, 1)
    out = []
    for w in windows:
        ids = w.copy()
        ids[VISIBLE:] = mask_id
        s = len(ids)
        lg = sess.run(["logits"], _feeds(sess, ids[None], np.arange(s)[None], (VISIBLE, s), None))[0]
        out.append(lg[0].argmax(-1))
    return np.concatenate(out)


def speed(path: Path, threads: int, vocab: int, mask_id: int, first_repeats: int = 3) -> dict:
    sess = _session(path, threads)
    rng = np.random.default_rng(1)
    ctx = rng.integers(0, min(vocab, 49000), CTX)
    ids = np.concatenate([ctx, np.full(BLOCK, mask_id)])[None]
    n = ids.shape[1]
    names = [o.name for o in sess.get_outputs()]
    first = []
    for _ in range(first_repeats):
        t0 = time.perf_counter()
        res = sess.run(None, _feeds(sess, ids, np.arange(n)[None], (CTX, n), None))
        first.append((time.perf_counter() - t0) * 1000)
    out = dict(zip(names, res))
    layers = sum(1 for k in names if k.startswith("present_key."))
    past = [out[f"present_{k}.{i}"][:, :, :CTX] for i in range(layers) for k in ("key", "value")]
    cached = []
    for _ in range(10):
        t0 = time.perf_counter()
        sess.run(["logits"], _feeds(sess, ids[:, CTX:], np.arange(CTX, n)[None], (0, BLOCK), past))
        cached.append((time.perf_counter() - t0) * 1000)
    kv_bytes_per_token = sum(p.dtype.itemsize * p.shape[1] * p.shape[3] for p in past)
    return {"first_forward_ms": round(statistics.median(first), 1), "cached_forward_ms": round(statistics.median(cached), 1),
            "kv_bytes_per_token": int(kv_bytes_per_token)}


def size_of(d: Path) -> int:
    return sum(f.stat().st_size for f in (d / "model.onnx", d / "model.onnx.data") if f.exists())


def sweep(fp32_onnx: Path, work: Path, windows, ref: np.ndarray, mask_id: int, vocab: int) -> list[dict]:
    """int4 settings on the fp32 graph (quantize_int4 on the bundle's model.onnx): size, agreement, speed."""
    from ..convert import quantize_int4
    rows = []
    grid = [dict(block_size=b, is_symmetric=s, accuracy_level=a, quantize_head=h, quantize_embedding=e)
            for (b, s, a, h, e) in [(32, False, 4, True, False), (128, False, 4, True, False), (32, True, 4, True, False),
                                    (32, False, None, True, False), (32, False, 4, False, False), (32, False, 4, True, True)]]
    for cfg in grid:
        out = work / "sweep.onnx"
        t0 = time.time()
        quantize_int4(fp32_onnx, out, **cfg)
        qs = time.time() - t0
        got = argmax_rows(out, windows, mask_id)
        row = {**cfg, "bytes": size_of_file(out), "top1": round(float((got == ref).mean()), 4),
               "quantize_s": round(qs, 1), **{f"t1_{k}": v for k, v in speed(out, 1, vocab, mask_id, 1).items()}}
        print(json.dumps(row), flush=True)
        rows.append(row)
        for f in (out, out.with_name(out.name + ".data")):
            f.unlink(missing_ok=True)
    return rows


def size_of_file(p: Path) -> int:
    return p.stat().st_size + (p.with_name(p.name + ".data").stat().st_size if p.with_name(p.name + ".data").exists() else 0)


def main(argv: list[str] | None = None) -> None:
    import torch
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bundle", default=str(ROOT / "models" / "smollm2-135m-dllm"))
    ap.add_argument("--adapted", default=str(ROOT / "training" / "runs" / "smollm" / "adapted"))
    ap.add_argument("--release", default=str(ROOT / "training" / "smollm-release"))
    ap.add_argument("--out", default=str(ROOT / "bench" / "smollm-dtypes.json"))
    ap.add_argument("--sweep", action="store_true")
    ap.add_argument("--dtypes", default="fp32,fp16,int8,int4")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    bundle = Path(a.bundle)
    bj = json.loads((bundle / "bundle.json").read_text())
    mask_id, vocab = bj["ids"]["mask"], bj["vocab_size"]
    windows = held_out_windows(bundle / "tokenizer.json", mask_id)
    ref = argmax_rows(bundle / "model.onnx", windows, mask_id)
    result: dict = {"bundle": bj["name"], "params": bj["model"]["params"], "context": CTX, "block": BLOCK,
                    "agreement_tokens": int(ref.size), "dtypes": {}}
    if a.sweep:   # on the first SWEEP_WINDOWS windows (512 scored tokens): the settings' ranking, quickly
        result["int4_sweep"] = sweep(bundle / "model.onnx", Path(a.out).parent, windows[:SWEEP_WINDOWS],
                                     ref[: SWEEP_WINDOWS * MASKED], mask_id, vocab)
    from ..convert import convert
    for dt in [d for d in a.dtypes.split(",") if d]:
        d = bundle if dt == "fp32" else bundle.with_name(f"{bundle.name}-{dt}")
        if dt == "int8" and not (d / "model.onnx").exists():
            # convert.py's int8 is quantize_int8 of this very fp32 graph (same K/V, same ops): no re-export.
            from ..convert import quantize_int8
            shutil.copytree(bundle, d, ignore=shutil.ignore_patterns("model.onnx*"))
            quantize_int8(bundle / "model.onnx", d / "model.onnx")
            nb = json.loads((d / "bundle.json").read_text())
            nb["model"]["dtype"], nb["name"] = "int8", f"{bj['name']}-int8"
            (d / "bundle.json").write_text(json.dumps(nb, indent=2) + "\n")
        if dt != "fp32" and not (d / "model.onnx").exists():
            r = Path(a.release)
            # As smollm/build.py converts it: the adaptation's mask id and logit shift.
            convert(Path(a.adapted), d, adapter=r / "sft-adapter", metadata=r / "edit-metadata.safetensors", dtype=dt,
                    probes="all-qkv", name=f"{bj['name']}-{dt}", generation=bj["generation"], min_top1=None,
                    ids_override={"mask": mask_id}, shift=bool(bj["model"]["shift"]), log=lambda s: None)
            # the fp32 bundle's tasks/templates (convert writes the defaults)
            nb = json.loads((d / "bundle.json").read_text())
            nb.update({k: bj[k] for k in ("tasks", "default_task", "infill", "chat_template", "ids") if k in bj})
            (d / "bundle.json").write_text(json.dumps(nb, indent=2) + "\n")
        got = argmax_rows(d / "model.onnx", windows, mask_id)
        row = {"dir": d.name, "bytes": size_of(d), "size_vs_fp32": None, "top1_vs_fp32": round(float((got == ref).mean()), 4)}
        for th in (1, 2):
            row[f"threads_{th}"] = speed(d / "model.onnx", th, vocab, mask_id, 1)
        result["dtypes"][dt] = row
        print(dt, json.dumps(row), flush=True)
    base = result["dtypes"].get("fp32")
    for dt, row in result["dtypes"].items():
        if base:
            row["size_vs_fp32"] = round(row["bytes"] / base["bytes"], 3)
            for th in (1, 2):
                row[f"threads_{th}"]["cached_speedup_vs_fp32"] = round(
                    base[f"threads_{th}"]["cached_forward_ms"] / row[f"threads_{th}"]["cached_forward_ms"], 2)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    if "int4_sweep" not in result and Path(a.out).exists():   # a run without --sweep keeps the last sweep
        old = json.loads(Path(a.out).read_text())
        if "int4_sweep" in old:
            result["int4_sweep"] = old["int4_sweep"]
    Path(a.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
