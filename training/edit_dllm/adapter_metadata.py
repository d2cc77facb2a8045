"""EDIT metadata from a released LoRA adapter alone (no optimizer history).

LoRA-B starts at zero, and AdamW's update is -lr (U_k + wd B_{k-1}) with U_k the Eq 2 direction,
so at constant lr and small weight decay the final B = -lr Σ_k U_k ∝ -Ū_B (Eq 3). The row energy
(Eq 4) and the left singular subspace (App. E) are sign- and scale-free, so B's own row norms and
left singular vectors estimate u and the subspace. Warmup/decay weight the steps unevenly, which is
why this is an estimate; `compare_with_recorded` measures how close it is.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch

from .recorder import RecorderError, clean_module_name, lora_b_parameters, row_energy, top_left_singular_vectors


def lora_b_from(source: torch.nn.Module | Mapping[str, torch.Tensor] | str | Path) -> dict[str, torch.Tensor]:
    """Clean module path -> LoRA-B matrix [d_out, r] from a peft model, a state dict, or an
    adapter_model.safetensors path."""
    if isinstance(source, (str, Path)):
        from safetensors.torch import load_file
        source = load_file(str(source))
    if isinstance(source, torch.nn.Module):
        found = {m: p.detach() for m, p in lora_b_parameters(source).items()}
    else:
        found = {}
        for name, t in source.items():
            clean = clean_module_name(name)
            if clean is not None:
                found[clean] = t.detach()
    if not found:
        raise RecorderError("no LoRA-B weights found (expected names like '<module>.lora_B[.<adapter>].weight')")
    return found


def u_from_adapter(source: torch.nn.Module | Mapping[str, torch.Tensor] | str | Path,
                   top_k: int = 4) -> dict[str, dict[str, torch.Tensor]]:
    """module -> {"u": [d_out], "subspace": [d_out, k]} estimated from the final B matrices."""
    out = {}
    for m, B in lora_b_from(source).items():
        B = B.float().cpu()
        out[m] = {"u": row_energy(B), "subspace": top_left_singular_vectors(B, top_k)}
    return out


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double().flatten(), b.double().flatten()
    return float(a @ b / (a.norm() * b.norm()).clamp_min(1e-300))


def compare_with_recorded(source, metadata_path: str | Path, top_k: int = 4) -> dict[str, dict[str, float]]:
    """Per module: cosine(u_adapter, u_recorded) and the mean squared cosine of the principal
    angles between the two subspaces (1 = same subspace)."""
    from safetensors.torch import load_file
    rec = load_file(str(metadata_path))
    est = u_from_adapter(source, top_k)
    out = {}
    for m, e in est.items():
        if f"{m}.u" not in rec:
            continue
        S1, S2 = e["subspace"].double(), rec[f"{m}.subspace"].double()
        k = min(S1.shape[1], S2.shape[1])
        overlap = float(torch.linalg.matrix_norm(S1[:, :k].T @ S2[:, :k]) ** 2 / k)
        out[m] = {"u_cosine": cosine(e["u"], rec[f"{m}.u"]), "subspace_overlap": overlap}
    return out
