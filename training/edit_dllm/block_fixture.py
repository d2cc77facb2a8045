"""Tiny SDAR and Fast-dLLM v2 fixtures: converted bundles and the official generate functions' outputs.

    python -m edit_dllm.block_fixture --fixtures ../test/fixtures [--official DIR]

Writes test/fixtures/tiny-sdar and test/fixtures/tiny-fast-dllm-v2 (random checkpoints in the official
layouts, arch/tiny.py, converted with a q/k/v LoRA so every rule, EDIT's included, runs on them) and, with
--official (the folder layout of training/tests/official_block_diffusion.py; a transformers that runs the
official code first on PYTHONPATH), test/fixtures/official/tiny-<family>.json: the token ids that
the official generate functions produce on the same weights (the LoRA merged into q/k/v) at deterministic
settings. The TS engine is tested token-exact against these (test/engine/block-diffusion.test.ts), and
training/tests/test_block_diffusion.py re-runs the official code against them where it is present.

Settings (what each official function does with them, and the engine's equivalent):
- SDAR generate.py block_diffusion_generate: block_length = config block_size (4), denoising_steps 4,
  argmax instead of multinomial; remasking 'low_confidence_static' = the engine's uniform schedule with rule
  `full`; 'low_confidence_dynamic' with a threshold = the same schedule + rule `confidence` (its commits
  above the threshold, or the scheduled k when fewer pass). Stop: the eos id.
- Fast-dLLM v2 modeling.py generate: block_size = bd_size (8 in the fixture, 32 released), small_block_size
  2 (8 released), temperature 0 (argmax, softmax probabilities), threshold; stop_token = eos. The engine:
  generation.sub_block_length + one scheduled commit per step + rule `confidence`.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import torch

FIXTURE_NAMES = {"sdar": "tiny-sdar", "fast-dllm-v2": "tiny-fast-dllm-v2"}
PROMPTS = ["def add(a, b):", "Write a haiku about tests.", "import torch\nimport numpy as np\nfor i in range(10):",
           "class Block(nn.Module):\n    def forward(self, x):", "def generate(model, prompt, steps=32):\n"]
# (case name, official kwargs, engine stop rule, engine params)
SDAR_CASES = [
    ("static", {"remasking_strategy": "low_confidence_static"}, "full", {}),
    ("dynamic-0.85", {"remasking_strategy": "low_confidence_dynamic", "confidence_threshold": 0.85}, "confidence",
     {"threshold": 0.85}),
    ("dynamic-0.05", {"remasking_strategy": "low_confidence_dynamic", "confidence_threshold": 0.05}, "confidence",
     {"threshold": 0.05}),
]
SDAR_GEN = {"gen_length": 16, "block_length": 4, "denoising_steps": 4}
FAST_CASES = [("threshold-0.9", {"threshold": 0.9}, "confidence", {"threshold": 0.9}),
              ("threshold-0.05", {"threshold": 0.05}, "confidence", {"threshold": 0.05})]
FAST_GEN = {"max_new_tokens": 24, "block_size": 8, "small_block_size": 2}


def merged_state(model, spec) -> dict[str, torch.Tensor]:
    """The core's weights in the checkpoint's names with each LoRA merged (W + scaling B A)."""
    from .arch.layouts import core_param_to_checkpoint
    out = {}
    for name, t in model.state_dict().items():
        if ".lora_" in name:
            continue
        module = name.rsplit(".", 1)[0]
        t = t.clone()
        if name.endswith(".weight") and module.startswith("layers."):
            lin = model.get_submodule(module)
            if getattr(lin, "lora_A", None) is not None:
                t += lin.lora_scaling * (lin.lora_B @ lin.lora_A)
        out[core_param_to_checkpoint(spec.layout, name)] = t
    return out


def official_model(family: str, ckpt: Path, state: dict[str, torch.Tensor]):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    import official_block_diffusion as ob
    cfgd = json.loads((ckpt / "config.json").read_text())
    if family == "sdar":
        Cfg, Model, gen = ob.load_sdar()
        gen.sample_with_temperature_topk_topp = ob.argmax_sampler
    else:
        (Cfg, Model), gen = ob.load_fast_dllm_v2(), None
    cfg = Cfg(**{k: v for k, v in cfgd.items() if k not in ("architectures", "model_type")})
    cfg._attn_implementation = "sdpa"
    m = Model(cfg).float().eval()
    missing, unexpected = m.load_state_dict(state, strict=False)
    if [k for k in missing if k != "lm_head.weight"] or unexpected:
        raise AssertionError(f"official {family}: missing {missing}, unexpected {unexpected}")
    if cfg.tie_word_embeddings:
        m.tie_weights()
    return m, gen


class OfficialLoops(RuntimeError):
    """Fast-dLLM v2's generate loops forever when the argmax is the mask id itself (a random model can do
    that; a trained one does not): the committed token is the mask again and the block never completes."""


def official_outputs(family: str, m, gen, prompt_ids: list[int], ids: dict, kwargs: dict) -> list[int]:
    """The generated ids after the prompt, up to the last position of the last decoded block."""
    x = torch.tensor([prompt_ids])
    forward, calls = type(m).forward, [0]

    def counted(self, *a, **k):
        calls[0] += 1
        if calls[0] > 500:
            raise OfficialLoops(f"{family}: more than 500 forwards")
        return forward(self, *a, **k)
    m.forward = counted.__get__(m)
    with torch.no_grad():
        if family == "sdar":
            out = gen.block_diffusion_generate(m, {"input_ids": x}, ids["mask"], temperature=1.0,
                                               stopping_criteria_idx=[ids["eos"]],
                                               **{**{k: SDAR_GEN[k] for k in SDAR_GEN}, **kwargs})
        else:
            out = m.generate(x, mask_id=ids["mask"], stop_token=ids["eos"], temperature=0, **FAST_GEN, **kwargs)[0]
    return [int(t) for t in out[0, len(prompt_ids):]]


def engine_request(family: str, prompt_len: int, rule: str, params: dict) -> dict:
    """The engine request that decodes the same blocks (genLength counts from the prompt; the engine extends
    the last block to the model's block boundary, as SDAR's total_length does)."""
    if family == "sdar":
        bs = SDAR_GEN["block_length"]
        gen = SDAR_GEN["gen_length"]
        return {"genLength": gen, "blockLength": bs, "steps": gen // bs * SDAR_GEN["denoising_steps"],
                "stop": rule, "params": params}
    bs = FAST_GEN["block_size"]
    blocks = FAST_GEN["max_new_tokens"] // bs
    gen = (blocks - 1) * bs if prompt_len % bs else blocks * bs   # the first block completes the prompt's
    return {"genLength": gen, "blockLength": bs, "steps": gen, "stop": rule, "params": params}


SDAR_FIXTURE_GENERATION = {"gen_length": 16, "block_length": 4, "steps": 16, "schedule": "uniform"}
# Candidates for the reference sampler's golden traces: the first two whose chat-wrapped ids fill whole
# blocks, so the reference sampler's blocks (from the prompt's end) are the model's (the engine aligns them).
GOLDEN_CANDIDATES = ["def add(a, b):", "Write a haiku about tests.", "import torch", "print(i, i * i)",
                     "def generate(model, prompt, steps=32):", "class Block(nn.Module):", "return a + b",
                     "import numpy as np", "for i in range(10):", "print(i)"]


def write_reference_golden(bundle_dir: Path, model, golden_dir: Path, block: int) -> list[Path]:
    """Golden traces of the PyTorch reference sampler (sampler.py on the core module, block-causal mask
    included) for the TS golden test (test/engine/golden.test.ts), as arch/tiny.py write_fixture does."""
    from .arch.tiny import FIXTURE_VARIANTS, write_golden_traces
    from .sampler import Bundle
    bundle = Bundle.load(bundle_dir)
    prompts = [p for p in GOLDEN_CANDIDATES if len(bundle.encode_prompt("chat", p)) % block == 0][:2]
    if len(prompts) < 2:
        raise RuntimeError(f"fewer than two golden prompts fill whole blocks of {block}")
    return write_golden_traces(bundle, bundle_dir.name, model, prompts, FIXTURE_VARIANTS, golden_dir, "chat")


def write(fixtures: Path, official: Path | None) -> list[Path]:
    import os
    from tokenizers import Tokenizer
    from .arch.checkpoint import attach_adapter, load_checkpoint
    from .arch.tiny import build_tiny_adapter, build_tiny_checkpoint
    from .convert import convert
    written = []
    for family, name in FIXTURE_NAMES.items():
        tmp = Path(tempfile.mkdtemp(prefix="edit-block-fixture-"))
        try:
            ckpt = build_tiny_checkpoint(family, tmp / "ckpt")
            lora = build_tiny_adapter(ckpt, tmp / "lora")
            bundle_dir = fixtures / name
            convert(ckpt, bundle_dir, adapter=lora, probes="all-qkv", name=name, log=lambda s: None,
                    generation=SDAR_FIXTURE_GENERATION if family == "sdar" else None)
            written.append(bundle_dir)
            model, spec = load_checkpoint(ckpt)
            attach_adapter(model, spec, lora)
            if family == "sdar":   # Fast-dLLM v2's sub-blocks are engine-only: its parity is the official outputs
                written += write_reference_golden(bundle_dir, model, fixtures / "golden" / name, spec.core.block_size)
            if official is None:
                continue
            os.environ["EDIT_OFFICIAL_CODE"] = str(official)
            m, gen = official_model(family, ckpt, merged_state(model, spec))
            ids = json.loads((bundle_dir / "bundle.json").read_text())["ids"]
            tok = Tokenizer.from_file(str(bundle_dir / "tokenizer.json"))
            cases = []
            for prompt in PROMPTS:
                pids = tok.encode(prompt, add_special_tokens=False).ids
                for case, kwargs, rule, params in (SDAR_CASES if family == "sdar" else FAST_CASES):
                    try:
                        out = official_outputs(family, m, gen, pids, ids, kwargs)
                    except OfficialLoops:
                        print(f"skipped {family} {case} {prompt!r}: {OfficialLoops.__doc__.split(':')[0]}", file=sys.stderr)
                        continue
                    cases.append({"case": case, "prompt": prompt, "promptIds": pids,
                                  "official": {**(SDAR_GEN if family == "sdar" else FAST_GEN), **kwargs},
                                  "request": engine_request(family, len(pids), rule, params), "outputIds": out})
            # The stop paths: random weights never produce the eos, so a second set stops on the token the
            # model generates most often (the engine runs these with that id as bundle.json ids.eos).
            from collections import Counter
            stop = Counter(t for c in cases for t in c["outputIds"] if t != ids["mask"]).most_common(1)[0][0]
            stop_cases = SDAR_CASES[::2] if family == "sdar" else FAST_CASES[1:]
            for prompt in PROMPTS:
                pids = tok.encode(prompt, add_special_tokens=False).ids
                for case, kwargs, rule, params in stop_cases:
                    try:
                        out = official_outputs(family, m, gen, pids, {**ids, "eos": stop}, kwargs)
                    except OfficialLoops:
                        continue
                    cases.append({"case": f"{case}-stop-{stop}", "prompt": prompt, "promptIds": pids, "eos": stop,
                                  "official": {**(SDAR_GEN if family == "sdar" else FAST_GEN), **kwargs},
                                  "request": engine_request(family, len(pids), rule, params), "outputIds": out})
            gdir = fixtures / "official"
            gdir.mkdir(parents=True, exist_ok=True)
            doc = {"format": "edit-official-golden/1", "bundleDir": name, "family": family, "eos": ids["eos"],
                   "mask": ids["mask"], "cases": cases}
            (gdir / f"{name}.json").write_text(json.dumps(doc, indent=1) + "\n")
            written.append(gdir / f"{name}.json")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return written


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fixtures", required=True, help="test/fixtures")
    ap.add_argument("--official", help="folder with the official code (sdar/, fast_dllm_v2/)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    for p in write(Path(a.fixtures), Path(a.official) if a.official else None):
        print(p)


if __name__ == "__main__":
    main()
