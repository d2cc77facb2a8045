"""AdamW-evolution recorder: EDIT's SFT-phase metadata (paper §2, Eq 1-4, App. E, App. G).

At every optimizer step, for every LoRA-B weight, read the AdamW moments the optimizer already keeps
(Eq 1: exp_avg = M_k, exp_avg_sq = V_k, raw, no bias correction), form U_k = M_k / sqrt(V_k + eps)
(Eq 2) and add it to one running d_out x r float32 sum, so Ū_B = sum / K (Eq 3) costs no history.
The RMS of the LoRA-B gradient is summed too, for the grad-RMS band of App. G.

Two ways to attach it:
- a hand-written loop: ``optimizer.step(); rec.step(); optimizer.zero_grad()``;
- Hugging Face Trainer: ``trainer.add_callback(rec.as_trainer_callback())`` or
  ``Trainer(callbacks=[AdamWEvolutionCallback()])`` (on_optimizer_step runs after optimizer.step and
  before zero_grad, so moments and gradients are both there).
``save(path)`` writes edit-metadata.safetensors as docs/bundle-contract.md specifies.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import torch

FORMAT = "edit-metadata/1"
EPS_PLACEMENTS = ("inside-sqrt", "outside-sqrt")
_PEFT_PREFIX = "base_model.model."


class RecorderError(ValueError):
    """The model/optimizer cannot be recorded (no LoRA-B weights, not AdamW, no steps yet...)."""


def clean_module_name(param_name: str) -> str | None:
    """'base_model.model.blocks.3.attn.q_proj.lora_B.default.weight' -> 'blocks.3.attn.q_proj'.
    Returns None for parameters that are not LoRA-B weights."""
    if ".lora_B." not in param_name or not param_name.endswith(".weight"):
        return None
    name = param_name.split(".lora_B.", 1)[0]
    return name[len(_PEFT_PREFIX):] if name.startswith(_PEFT_PREFIX) else name


def lora_b_parameters(model: torch.nn.Module) -> dict[str, torch.nn.Parameter]:
    """Clean module path -> LoRA-B weight [d_out, r], in the model's parameter order."""
    found: dict[str, torch.nn.Parameter] = {}
    for name, p in model.named_parameters():
        clean = clean_module_name(name)
        if clean is not None:
            found[clean] = p
    return found


def unwrap_optimizer(optimizer: object) -> torch.optim.Optimizer:
    """Accelerate/Trainer wrap the optimizer (AcceleratedOptimizer.optimizer); take the inner one."""
    opt = optimizer
    while not isinstance(opt, torch.optim.AdamW) and isinstance(getattr(opt, "optimizer", None), torch.optim.Optimizer):
        opt = opt.optimizer
    return opt  # type: ignore[return-value]


class _Stats:
    """Running sums for one module: Σ U_k (float32, [d_out, r]) and Σ RMS(G_k), Σ RMS(G_k)^2."""

    def __init__(self, param: torch.nn.Parameter) -> None:
        self.param = param
        self.u_sum = torch.zeros(param.shape, dtype=torch.float32)
        self.rms_sum = 0.0
        self.rms_sq_sum = 0.0
        self.rms_count = 0


class AdamWEvolutionRecorder:
    def __init__(self, model: torch.nn.Module, optimizer: object, top_k: int = 4, full_ubar: bool = False,
                 eps_placement: str = "inside-sqrt") -> None:
        if eps_placement not in EPS_PLACEMENTS:
            raise RecorderError(f"eps_placement must be one of {EPS_PLACEMENTS}, got {eps_placement!r}")
        params = lora_b_parameters(model)
        if not params:
            raise RecorderError("the model has no LoRA-B weights (parameters named '*.lora_B.<adapter>.weight'); "
                                "wrap it with peft.get_peft_model(model, LoraConfig(...)) before recording")
        opt = unwrap_optimizer(optimizer)
        if not isinstance(opt, torch.optim.AdamW):
            raise RecorderError(f"EDIT's metadata is defined by AdamW's moments (Eq 1-2); the optimizer is "
                                f"{type(opt).__name__}, expected torch.optim.AdamW")
        group_of = {id(p): g for g in opt.param_groups for p in g["params"]}
        missing = [m for m, p in params.items() if id(p) not in group_of]
        if missing:
            raise RecorderError(f"LoRA-B weights not handed to the optimizer: {missing[:3]}")
        self.optimizer = opt
        self.top_k = top_k
        self.full_ubar = full_ubar
        self.eps_placement = eps_placement
        self.stats = {m: _Stats(p) for m, p in params.items()}
        self._group = {m: group_of[id(p)] for m, p in params.items()}
        first = self._group[next(iter(params))]
        self.betas = tuple(float(b) for b in first["betas"])
        self.eps = float(first["eps"])
        self.K = 0
        self.lrs: list[float] = []

    @property
    def modules(self) -> list[str]:
        return list(self.stats)

    @torch.no_grad()
    def step(self) -> None:
        """Call once after each optimizer.step() (before zero_grad)."""
        for m, st in self.stats.items():
            state = self.optimizer.state.get(st.param)
            if not state or "exp_avg" not in state:
                raise RecorderError(f"no AdamW state for {m}: call rec.step() after optimizer.step()")
            M = state["exp_avg"].detach().float().cpu()
            V = state["exp_avg_sq"].detach().float().cpu()
            eps = float(self._group[m]["eps"])
            if self.eps_placement == "inside-sqrt":
                U = M / torch.sqrt(V + eps)           # Eq 2
            else:
                U = M / (torch.sqrt(V) + eps)         # the released code's placement
            st.u_sum += U
            g = st.param.grad
            if g is not None:
                rms = float(torch.sqrt(torch.mean(g.detach().double() ** 2)))
                st.rms_sum += rms
                st.rms_sq_sum += rms * rms
                st.rms_count += 1
        self.lrs.append(float(self._group[self.modules[0]]["lr"]))
        self.K += 1

    # ------------------------------------------------------------------ results
    def ubar(self, module: str) -> torch.Tensor:
        """Ū_B = (1/K) Σ_k U_k (Eq 3), [d_out, r]."""
        if self.K == 0:
            raise RecorderError("no optimizer steps recorded yet (call rec.step() after each optimizer.step())")
        return self.stats[module].u_sum / self.K

    def grad_rms(self, module: str) -> tuple[float, float]:
        """Mean and (population) std over steps of RMS(G_k) (App. G)."""
        st = self.stats[module]
        if st.rms_count == 0:
            return (0.0, 0.0)
        mean = st.rms_sum / st.rms_count
        var = max(0.0, st.rms_sq_sum / st.rms_count - mean * mean)
        return (mean, math.sqrt(var))

    def tensors(self) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        for m in self.modules:
            ub = self.ubar(m)
            out[f"{m}.u"] = row_energy(ub)
            out[f"{m}.subspace"] = top_left_singular_vectors(ub, self.top_k)
            if self.full_ubar:
                out[f"{m}.ubar"] = ub.clone()
            out[f"{m}.grad_rms"] = torch.tensor(self.grad_rms(m), dtype=torch.float32)
        return out

    def metadata(self, default_probe: str | None = None) -> dict[str, str]:
        mods = self.modules
        probe = default_probe or default_probe_for(mods)
        if probe not in mods:
            raise RecorderError(f"default_probe {probe!r} is not a recorded module; expected one of {mods}")
        shapes = {tuple(self.stats[m].param.shape) for m in mods}
        d_out = sorted({s[0] for s in shapes})
        rank = sorted({s[1] for s in shapes})
        return {
            "format": FORMAT,
            "modules": json.dumps(mods),
            "d_out": str(d_out[0]) if len(d_out) == 1 else json.dumps(d_out),
            "rank": str(rank[0]) if len(rank) == 1 else json.dumps(rank),
            "k": str(min(self.top_k, *rank)),
            "K": str(self.K),
            "betas": json.dumps(list(self.betas)),
            "eps": repr(self.eps),
            "eps_placement": self.eps_placement,
            "bias_correction": "false",
            "lr_schedule": json.dumps(lr_summary(self.lrs)),
            "default_probe": probe,
        }

    def save(self, path: str | Path, default_probe: str | None = None) -> Path:
        from safetensors.torch import save_file

        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        meta = self.metadata(default_probe)
        tensors = {k: v.contiguous().float() for k, v in self.tensors().items()}
        save_file(tensors, str(p), metadata=meta)
        return p

    def as_trainer_callback(self) -> object:
        """A transformers.TrainerCallback that drives this recorder."""
        return make_trainer_callback(self)


# ---------------------------------------------------------------------------------------------- math

def row_energy(ubar: torch.Tensor) -> torch.Tensor:
    """u[p] = ||Ū_B[p, :]||_2 (Eq 4)."""
    return torch.linalg.vector_norm(ubar.float(), dim=1)


def top_left_singular_vectors(ubar: torch.Tensor, k: int) -> torch.Tensor:
    """Top-k left singular vectors of Ū_B (App. E), [d_out, min(k, r)], orthonormal columns.
    Sign is fixed so each column's largest-|.| entry is positive (SVD signs are arbitrary)."""
    U, _, _ = torch.linalg.svd(ubar.double(), full_matrices=False)
    U = U[:, : min(k, U.shape[1])]
    idx = U.abs().argmax(dim=0)
    signs = torch.sign(U[idx, torch.arange(U.shape[1])])
    signs[signs == 0] = 1
    return (U * signs).float()


def default_probe_for(modules: list[str]) -> str:
    """The paper's default probe: the Q projection's LoRA-B of the last block."""
    q = [m for m in modules if m.endswith("q_proj")]
    return (q or modules)[-1]


def lr_summary(lrs: list[float]) -> dict:
    if not lrs:
        return {"kind": "observed", "steps": 0}
    peak = max(lrs)
    return {"kind": "observed", "steps": len(lrs), "first": lrs[0], "peak": peak, "last": lrs[-1],
            "warmup_steps": lrs.index(peak) + 1, "constant": max(lrs) == min(lrs)}


# ----------------------------------------------------------------------------- transformers adapter

def make_trainer_callback(recorder: AdamWEvolutionRecorder | None = None, top_k: int = 4,
                          full_ubar: bool = False, eps_placement: str = "inside-sqrt",
                          save_path: str | Path | None = None) -> object:
    """Build a transformers.TrainerCallback (imported lazily: transformers is optional).

    With `recorder=None` the recorder is created at the first optimizer step from the Trainer's
    model and optimizer (the optimizer does not exist before training starts). With `save_path`,
    metadata is written at on_train_end."""
    from transformers import TrainerCallback

    class AdamWEvolutionCallback(TrainerCallback):
        def __init__(self) -> None:
            self.recorder = recorder

        def on_optimizer_step(self, args, state, control, model=None, optimizer=None, **kwargs):
            if self.recorder is None:
                if model is None or optimizer is None:
                    raise RecorderError("Trainer did not pass model/optimizer to on_optimizer_step")
                self.recorder = AdamWEvolutionRecorder(model, optimizer, top_k=top_k, full_ubar=full_ubar,
                                                       eps_placement=eps_placement)
            self.recorder.step()
            return control

        def on_train_end(self, args, state, control, **kwargs):
            if save_path is not None and self.recorder is not None:
                self.recorder.save(save_path)
            return control

    return AdamWEvolutionCallback()
