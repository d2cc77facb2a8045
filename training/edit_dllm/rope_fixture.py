"""A rotary-position cache-graph bundle for engine tests and the bench's context sweep
(test/fixtures/rope-tiny-char): the embedded model's reference weights with rotary positions in place of
its learned table (so no max_len: the window is limited by memory only), exported as the cache graph.

It is a fixture, not a useful model: the weights were trained with learned positions, so its text is
noise; what it gives is the embedded model's exact size and a rotary layout for parity and speed.

    python -m edit_dllm.rope_fixture --bundle ../models/edit-tiny-char --out ../test/fixtures/rope-tiny-char
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import torch

from .export import clean_module_name, export_cache_bundle_graph, lora_b_paths, read_bundle_json, write_bundle_json
from .model import MaskedDiffusionLM, ModelConfig
from .reference_weights import load_reference_model


def rope_variant(bundle_dir: Path) -> torch.nn.Module:
    learned = load_reference_model(bundle_dir)
    cfg = learned.get_base_model().cfg
    from peft import LoraConfig, get_peft_model
    lc = next(iter(learned.peft_config.values()))
    rope = get_peft_model(MaskedDiffusionLM(ModelConfig(**{**cfg.to_dict(), "positions": "rope"})),
                          LoraConfig(r=lc.r, lora_alpha=lc.lora_alpha, target_modules=sorted(lc.target_modules),
                                     lora_dropout=0.0))
    state = {k: v for k, v in learned.state_dict().items() if "pos_emb" not in k}
    missing, unexpected = rope.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise RuntimeError(f"rope variant: missing {missing}, unexpected {unexpected}")
    return rope.eval()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    src, out = Path(a.bundle), Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    model = rope_variant(src)
    bundle = read_bundle_json(src)
    wanted = list(bundle["probes"].values())
    paths = sorted((p for p in lora_b_paths(model) if clean_module_name(p) in wanted),
                   key=lambda p: wanted.index(clean_module_name(p)))
    _, cache = export_cache_bundle_graph(model, paths, out / "model.onnx")
    for f in ("tokenizer.json", "edit-metadata.safetensors"):
        shutil.copyfile(src / f, out / f)
    bundle["name"] = "rope-tiny-char"
    bundle["model"].update({"params": sum(p.numel() for p in model.parameters()),  # as the embedded bundle: LoRA included
                            "max_len": None, "positions": "rope", "shift": False, "cache": cache})
    write_bundle_json(out, bundle)
    print(json.dumps({"out": str(out), "model": bundle["model"]}))


if __name__ == "__main__":
    main()
