"""Load a trained (peft LoRA) checkpoint as a torch module / sampler forward for the CLIs.

Accepted: a torch.save dict {"config": ModelConfig dict, "state_dict": ..., "lora": {"r", "alpha",
"targets"}?} (train.save_model's format, with LoRA keys when saved after SFT), or a directory /
file that build.py documents (see training/README.md).
"""
from __future__ import annotations

from pathlib import Path

import torch

from .model import MaskedDiffusionLM, ModelConfig


def load_peft_model(path: str | Path):
    ck = torch.load(str(path), map_location="cpu", weights_only=False)
    sd = ck.get("state_dict") or ck.get("model")
    cfg = ModelConfig(**ck["config"])
    model = MaskedDiffusionLM(cfg)
    lora_keys = [k for k in sd if ".lora_A." in k]
    if lora_keys:
        from peft import LoraConfig, get_peft_model
        lora = ck.get("lora", {})
        r = int(lora.get("r") or sd[lora_keys[0]].shape[0])
        targets = lora.get("targets") or sorted({k.split(".lora_A.")[0].rsplit(".", 1)[-1] for k in lora_keys})
        model = get_peft_model(model, LoraConfig(r=r, lora_alpha=int(lora.get("alpha", 2 * r)),
                                                 target_modules=list(targets), lora_dropout=0.0))
        if not any(k.startswith("base_model.") for k in sd):
            sd = {f"base_model.model.{k}": v for k, v in sd.items()}
    model.load_state_dict(sd)
    return model.eval(), ck


def load_forward(path: str | Path, probes: str = "all-qkv"):
    from .sampler import TorchForward
    model, _ = load_peft_model(path)
    return TorchForward(model, probes)


def cli_forward(bundle_dir: str | Path, checkpoint: str | Path | None, threads: int):
    """The forward the calibrate/report CLIs run: the PyTorch SFT checkpoint when given, else the
    bundle's model.onnx through onnxruntime-python (what ships, and faster on CPU)."""
    if checkpoint:
        return load_forward(checkpoint)
    from .export import OnnxForward
    return OnnxForward(Path(bundle_dir) / "model.onnx", threads=threads)
