"""Golden check of a built SmolLM2 bundle: its ONNX graph (the edit_dllm/arch core, run by ONNX Runtime) against
an independent PyTorch reference (transformers' LlamaModel, bidirectional, on the merged adapted
checkpoint, with the SFT adapter loaded by peft), on a few real code prompts.

For each prompt: prefix + `gen` masks, confidence decoding one token per forward (as evaluate.py);
at every step the logits of the masked block are compared (max abs difference) and both sides' next
commit (argmax position and token) must agree. Writes <bundle>/golden-smollm.json.

    python -m edit_dllm.smollm.golden --bundle ../models/smollm2-135m-dllm
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from .build import DEFAULT_OUT, DEFAULT_RELEASE, TRAINING

PROMPTS = (
    "import os\n\n\ndef read_lines(path):\n    with open(path) as f:\n        return ",
    "class Point:\n    def __init__(self, x, y):\n        self.x = x\n        self.y = ",
    "for i, name in enumerate(names):\n    print(",
)


def reference(runs: Path, release: Path):
    from peft import PeftModel

    from .adapt import AdaptConfig, MaskedDiffusionLM
    from .load import load_base, mask_id
    info = json.loads((release / "adaptation.json").read_text())
    hf, tok = load_base(runs / "adapted", bidirectional=True)
    PeftModel.from_pretrained(hf, str(release / "sft-adapter"))   # injects the q/k/v LoRA into hf in place
    mdm = MaskedDiffusionLM(hf, mask_id(tok), AdaptConfig(shift=bool(info["adapt"]["shift"]), lora_targets=(),
                                                          train_norms=False, train_mask=False)).eval()
    return mdm, tok


@torch.no_grad()
def check(bundle: Path, runs: Path, release: Path, gen: int = 16, log=print) -> dict:
    from ..onnx_cache_export import CacheOnnxForward
    mdm, tok = reference(runs, release)
    ort = CacheOnnxForward(bundle / "model.onnx")
    n_layers = ort.n_layers
    cfg = mdm.body.config
    hd = cfg.head_dim
    report = {"prompts": [], "max_abs_diff": 0.0, "commits_agree": True}
    for text in PROMPTS:
        ids = tok(text, add_special_tokens=False)["input_ids"]
        a = len(ids)
        seq = torch.tensor([ids + [mdm.mask_id] * gen])
        steps = []
        for _ in range(gen):
            rows = torch.zeros_like(seq, dtype=torch.bool)
            rows[0, a:] = True
            ref = mdm(seq, rows=rows).float().numpy()
            past = [(np.zeros((1, cfg.num_key_value_heads, 0, hd), np.float32),) * 2 for _ in range(n_layers)]
            pos = np.arange(seq.shape[1])[None]
            got = ort(seq.numpy(), pos, past, np.array([a, a + gen]))[0][0]
            diff = float(np.abs(ref - got).max())
            report["max_abs_logit"] = max(report.get("max_abs_logit", 0.0), float(np.abs(ref).max()))
            masked = (seq[0, a:] == mdm.mask_id).numpy()

            def pick(logits):
                lg = logits.astype(np.float64)       # the bundle contract: argmax, softmax in float64
                p = np.exp(lg - lg.max(-1, keepdims=True))
                p /= p.sum(-1, keepdims=True)
                conf = np.where(masked, p.max(-1), -1.0)
                j = int(conf.argmax())
                return j, int(lg[j].argmax())
            r, o = pick(ref), pick(got)
            steps.append({"diff": diff, "ref": r, "onnx": o})
            report["max_abs_diff"] = max(report["max_abs_diff"], diff)
            report["commits_agree"] &= r == o
            seq[0, a + r[0]] = r[1]
        out_ids = seq[0, a:].tolist()
        report["prompts"].append({"prompt": text, "completion": tok.decode(out_ids), "steps": steps})
        log(f"{text[-30:]!r} -> {tok.decode(out_ids)!r} (max diff {max(s['diff'] for s in steps):.2e})")
    (bundle / "golden-smollm.json").write_text(json.dumps(report, indent=1) + "\n")
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m edit_dllm.smollm.golden", description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--release", type=Path, default=DEFAULT_RELEASE)
    ap.add_argument("--runs", type=Path, default=TRAINING / "runs" / "smollm")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    r = check(a.bundle, a.runs, a.release, log=lambda s: print(s, file=sys.stderr))
    print(json.dumps({"max_abs_diff": r["max_abs_diff"], "max_abs_logit": r["max_abs_logit"],
                      "commits_agree": r["commits_agree"]}))
    # float32 rounding over 30 layers grows with the logits' magnitude (|logit| ~ 30 here): relative 1e-4
    return 0 if r["commits_agree"] and r["max_abs_diff"] <= 1e-4 * max(1.0, r["max_abs_logit"]) else 1


if __name__ == "__main__":
    sys.exit(main())
