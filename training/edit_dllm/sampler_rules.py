"""Stop rules of the reference sampler (mirror of server/src/stop/rule.ts; one class per rule).

The sampler calls `begin_block` once per block and `observe` once per (non-polish) forward, before
that step's scheduled commit. All probability arithmetic is float64 (contract: "cosines in float64").

Rules:
- `full`: never stops.
- `edit` (paper Eq 5-8, Alg. 1): Sim_s = cos(f_s, u); P^(t) = softmax(Sim / tau) over S_t;
  I_t = S_{t-1} ∩ S_t; P~ renormalised on I_t (Eq 7); D_t = KL(P~(t) || P~(t-1)) (Eq 8), defined
  only when |I_t| >= 2 (a one-token support has KL 0 by construction, so it counts as unstable);
  c <- c+1 if D_t < delta else 0 (Alg. 1 line 22); stop when c >= Omega at t < T_b.
- `edit-subspace` (App. E, Eq 31 subspace cosine): Sim_s = ||U^T f_s|| / ||f_s||; rest as `edit`.
- `edit-released` (the authors' released code): per visible token s and per probed module, a
  distribution over the r columns of U-bar: q_s = softmax_j(cos(f_s, Ubar[:, j]) / T) with
  T = 2.0 - 1.9 * (masked fraction of the whole generation region at block start);
  D_t = mean over probed modules of mean over s in I_t of KL(q_s^(t-1) || q_s^(t)) (previous || current);
  D_t is defined when |I_t| >= 1 (per-token distributions have no support problem); the first step
  of a block (no previous) counts as unstable. Default polishSteps = 2.

Certificates at an EDIT stop (App. C), with m_t the top-2 margin of P~(t) on I_t:
  Thm 2 (Eq 18): Omega*sqrt(delta/2) < m_t/2
  Thm 4 (Eq 20): Omega*sqrt(delta/2) + sqrt(delta/2)/(1-alphaHat) < m_t/2   ("certified stop")
  Cor 6 (Eq 24): Omega*sqrt(delta/2) + sqrt(delta/2)/(1-alphaHat) <= q/2    (a property of (delta, Omega))
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np


class RuleParamError(ValueError):
    """A stop-rule parameter is missing, unknown or out of range."""


# ---------------------------------------------------------------- metadata (edit-metadata.safetensors)

@dataclass
class ModuleMetadata:
    u: np.ndarray                 # [d_out] float64
    subspace: np.ndarray          # [d_out, k]
    ubar: np.ndarray | None       # [d_out, r]
    grad_rms: np.ndarray | None   # [2]


@dataclass
class EditMetadata:
    modules: dict[str, ModuleMetadata]
    default_probe: str
    header: dict[str, str] = field(default_factory=dict)

    @staticmethod
    def load(path: str | Path) -> "EditMetadata":
        from safetensors import safe_open
        tensors: dict[str, np.ndarray] = {}
        with safe_open(str(path), framework="np") as f:
            header = dict(f.metadata() or {})
            for k in f.keys():
                tensors[k] = f.get_tensor(k).astype(np.float64)
        names = json.loads(header["modules"]) if "modules" in header else sorted(
            {k.rsplit(".", 1)[0] for k in tensors})
        mods = {}
        for m in names:
            if f"{m}.u" not in tensors:
                raise RuleParamError(f"{path}: tensor '{m}.u' missing (module listed in __metadata__.modules)")
            mods[m] = ModuleMetadata(u=tensors[f"{m}.u"], subspace=tensors.get(f"{m}.subspace"),
                                     ubar=tensors.get(f"{m}.ubar"), grad_rms=tensors.get(f"{m}.grad_rms"))
        default = header.get("default_probe") or names[-1]
        return EditMetadata(mods, default, header)


# ---------------------------------------------------------------- sampler <-> rule views

@dataclass
class BlockInfo:
    index: int
    start: int
    end: int
    budget: int
    masked_fraction: float


@dataclass
class StepView:
    step: int
    ids: np.ndarray                     # [seq] int64: the forward's input (no padding)
    visible: list[int]                  # S_t, ascending absolute positions
    masked: list[int]
    x0: np.ndarray                      # aligned with masked
    confidence: np.ndarray              # float64, aligned with masked
    logits: np.ndarray                  # [seq, vocab] float32
    activations: Mapping[str, np.ndarray]  # module -> [seq, d_out]


@dataclass
class StepDecision:
    stop: bool = False
    commit_early: list[int] | None = None
    sims: list[float] | None = None
    kl: float | None = None
    counter: int | None = None
    margin: float | None = None


@dataclass
class Certificate:
    thm2: bool
    thm4: bool
    cor6: bool
    margin: float
    delta: float
    omega: int
    alphaHat: float
    q: float

    def to_json(self) -> dict:
        return dict(self.__dict__)


def certificate_flags(margin: float | None, delta: float, omega: int, alpha_hat: float | None,
                      q: float | None) -> Certificate:
    """Eq 18, Eq 20, Eq 24. With alpha_hat >= 1 Assumption 3 fails: Thm 4 / Cor 6 are false. Without
    certificate constants (alpha_hat/q None) Thm 4 / Cor 6 are false and reported as 0; an undefined
    margin makes Thm 2 / Thm 4 false and is reported as 0 (as the TS engine's certify())."""
    r = math.sqrt(delta / 2.0)
    local = omega * r
    have = alpha_hat is not None and q is not None
    tail = r / (1.0 - alpha_hat) if have and alpha_hat < 1.0 else math.inf
    m = margin if margin is not None and math.isfinite(margin) else None
    return Certificate(thm2=m is not None and local < m / 2.0,
                       thm4=have and m is not None and local + tail < m / 2.0,
                       cor6=have and local + tail <= q / 2.0, margin=float(m or 0.0), delta=float(delta),
                       omega=int(omega), alphaHat=float(alpha_hat or 0.0) if have else 0.0,
                       q=float(q or 0.0) if have else 0.0)


# ---------------------------------------------------------------- math helpers (float64)

def softmax64(x: np.ndarray, axis: int = -1) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    z = x - x.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def cosine_to(f: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Eq 5 per row of f [n, d] against u [d]; a zero-norm activation has similarity 0."""
    f = np.asarray(f, dtype=np.float64)
    u = np.asarray(u, dtype=np.float64)
    nf = np.linalg.norm(f, axis=1)
    nu = np.linalg.norm(u)
    den = nf * nu
    return np.where(den > 0, (f @ u) / np.where(den > 0, den, 1.0), 0.0)


def subspace_cosine(f: np.ndarray, U: np.ndarray) -> np.ndarray:
    """Eq 31 (subspace cosine): ||U^T f|| / ||f||."""
    f = np.asarray(f, dtype=np.float64)
    nf = np.linalg.norm(f, axis=1)
    proj = np.linalg.norm(f @ np.asarray(U, dtype=np.float64), axis=1)
    return np.where(nf > 0, proj / np.where(nf > 0, nf, 1.0), 0.0)


def matched_kl(prev: Mapping[int, float], cur: Mapping[int, float]) -> tuple[float | None, float | None, list[int]]:
    """Eq 7-8 on I_t = S_{t-1} ∩ S_t: (D_t, top-2 margin of P~(t), I_t); (None, None, I) when |I_t| < 2."""
    inter = sorted(set(prev) & set(cur))
    if len(inter) < 2:
        return None, None, inter
    pt = np.array([cur[s] for s in inter], dtype=np.float64)
    pp = np.array([prev[s] for s in inter], dtype=np.float64)
    pt /= pt.sum()
    pp /= pp.sum()
    d = float(np.sum(pt * np.log(pt / pp)))
    top = np.sort(pt)[::-1]
    return d, float(top[0] - top[1]), inter


# ---------------------------------------------------------------- rules

# Defaults = the bundle-contract example (and server/src/stop/run-length.ts).
EDIT_DEFAULTS = {"tau": 1.0, "deltaFirst": 0.05, "omegaFirst": 6, "deltaLater": 0.1, "omegaLater": 6,
                 "polishSteps": 0}
RELEASED_DEFAULTS = {"deltaFirst": 0.05, "omegaFirst": 6, "deltaLater": 0.1, "omegaLater": 6, "polishSteps": 2}


def _merge(defaults: Mapping, params: Mapping | None, rule: str, extra: tuple[str, ...] = ()) -> dict:
    p = dict(defaults)
    for k, v in (params or {}).items():
        if k not in defaults and k not in extra:
            raise RuleParamError(f"rule '{rule}': unknown parameter '{k}' (expected one of {sorted(defaults) + list(extra)})")
        p[k] = v
    for k in ("omegaFirst", "omegaLater", "polishSteps"):
        if k in p and (int(p[k]) != p[k] or p[k] < 0):
            raise RuleParamError(f"rule '{rule}': '{k}' must be a non-negative integer, got {p[k]!r}")
        if k in p:
            p[k] = int(p[k])
    return p


class StopRule:
    name = "base"
    polish_steps = 0

    def begin_block(self, block: BlockInfo) -> None:
        self.block = block

    def observe(self, view: StepView) -> StepDecision:
        return StepDecision()

    def block_thresholds(self) -> tuple[float, int] | None:
        return None

    def certificate(self) -> Certificate | None:
        return None

    def params(self) -> dict:
        return {}


class FullRule(StopRule):
    """Runs every block to its budget (the baseline)."""
    name = "full"


class _RunLengthStop(StopRule):
    """What the EDIT rules share (Alg. 1): first/later-block (delta, Omega), the run-length counter
    c on D_t < delta, the stop at c >= Omega before the budget, and the certificate at the stop.
    Subclasses compute D_t and the margin; the TS twin is server/src/stop/run-length.ts."""
    p: dict
    certs: dict | None

    def params(self) -> dict:
        return dict(self.p)

    def begin_block(self, block: BlockInfo) -> None:
        super().begin_block(block)
        first = block.index == 0
        self.delta = float(self.p["deltaFirst" if first else "deltaLater"])
        self.omega = int(self.p["omegaFirst" if first else "omegaLater"])
        self.c = 0
        self.last_margin: float | None = None

    def _advance(self, view: StepView, d: float | None, margin: float | None) -> bool:
        """Counts this step's D_t (undefined counts as unstable) and says whether to stop."""
        self.c = self.c + 1 if (d is not None and d < self.delta) else 0
        self.last_margin = margin
        return self.c >= self.omega and view.step < self.block.budget

    def block_thresholds(self) -> tuple[float, int]:
        return self.delta, self.omega

    def certificate(self) -> Certificate | None:
        c = self.certs
        return certificate_flags(self.last_margin, self.delta, self.omega,
                                 float(c["alphaHat"]) if c else None, float(c["q"]) if c else None)


class EditRule(_RunLengthStop):
    """Paper EDIT (Eq 5-8, Alg. 1) with the row-energy vector u; `similarity` is overridden by edit-subspace."""
    name = "edit"

    def __init__(self, metadata: EditMetadata, params: Mapping | None = None,
                 certificates: Mapping | None = None) -> None:
        self.p = _merge(EDIT_DEFAULTS, params, self.name, extra=("probe",))
        if self.p["tau"] <= 0:
            raise RuleParamError(f"rule '{self.name}': 'tau' must be > 0, got {self.p['tau']}")
        self.probe = str(self.p.get("probe", metadata.default_probe))
        if self.probe not in metadata.modules:
            raise RuleParamError(f"rule '{self.name}': probe '{self.probe}' has no metadata "
                                 f"(modules: {sorted(metadata.modules)})")
        self.meta = metadata.modules[self.probe]
        self.polish_steps = self.p["polishSteps"]
        self.certs = dict(certificates) if certificates else None

    def similarity(self, f: np.ndarray) -> np.ndarray:
        return cosine_to(f, self.meta.u)

    def begin_block(self, block: BlockInfo) -> None:
        super().begin_block(block)
        self.prev: dict[int, float] | None = None
        self.stopped = False

    def observe(self, view: StepView) -> StepDecision:
        vis = view.visible
        sims = self.similarity(view.activations[self.probe][vis]) if vis else np.zeros(0)
        probs = softmax64(sims / self.p["tau"]) if vis else np.zeros(0)  # Eq 6
        cur = dict(zip(vis, probs.tolist()))
        d, margin = None, None
        if self.prev is not None:
            d, margin, _ = matched_kl(self.prev, cur)
        self.prev = cur
        stop = self._advance(view, d, margin)
        return StepDecision(stop=stop, sims=[float(s) for s in sims], kl=d, counter=self.c, margin=margin)


class EditSubspaceRule(EditRule):
    """App. E: the reasoning vector replaced by the top-k left singular subspace of U-bar."""
    name = "edit-subspace"

    def __init__(self, metadata: EditMetadata, params: Mapping | None = None,
                 certificates: Mapping | None = None) -> None:
        super().__init__(metadata, params, certificates)
        if self.meta.subspace is None:
            raise RuleParamError(f"rule 'edit-subspace': metadata lacks '{self.probe}.subspace'")

    def similarity(self, f: np.ndarray) -> np.ndarray:
        return subspace_cosine(f, self.meta.subspace)


class EditReleasedRule(_RunLengthStop):
    """The released code's variant: per-token distributions over U-bar's r columns (see module doc)."""
    name = "edit-released"

    def __init__(self, metadata: EditMetadata, probes: list[str], params: Mapping | None = None,
                 certificates: Mapping | None = None) -> None:
        self.p = _merge(RELEASED_DEFAULTS, params, self.name)
        self.certs = dict(certificates) if certificates else None
        self.modules = [m for m in probes if m in metadata.modules and metadata.modules[m].ubar is not None]
        if not self.modules:
            raise RuleParamError("rule 'edit-released' needs '<module>.ubar' in edit-metadata.safetensors for at "
                                 f"least one exposed probe (probes: {probes}); record with --full-ubar")
        # Unit columns of U-bar per module, so f_unit @ cols gives the r cosines.
        self.cols = {}
        for m in self.modules:
            ub = metadata.modules[m].ubar
            n = np.linalg.norm(ub, axis=0)
            self.cols[m] = ub / np.where(n > 0, n, 1.0)
        self.polish_steps = self.p["polishSteps"]

    def begin_block(self, block: BlockInfo) -> None:
        super().begin_block(block)
        self.temperature = min(2.0, max(0.1, 2.0 - 1.9 * block.masked_fraction))
        self.prev: dict[str, dict[int, np.ndarray]] | None = None

    def observe(self, view: StepView) -> StepDecision:
        vis = view.visible
        cur: dict[str, dict[int, np.ndarray]] = {}
        for m in self.modules:
            f = np.asarray(view.activations[m][vis], dtype=np.float64) if vis else np.zeros((0, self.cols[m].shape[0]))
            nf = np.linalg.norm(f, axis=1, keepdims=True)
            cos = (f / np.where(nf > 0, nf, 1.0)) @ self.cols[m]
            q = softmax64(cos / self.temperature, axis=1) if vis else cos
            cur[m] = {s: q[i] for i, s in enumerate(vis)}
        d, margin = None, None
        if self.prev is not None:
            inter = sorted(set(vis) & set(self.prev[self.modules[0]]))
            if inter:
                # Mean over (token, module) pairs of KL(prev || curr); all modules share I_t, so this
                # equals the mean over modules of the per-module token means.
                kls = [float(np.sum(self.prev[m][s] * np.log(self.prev[m][s] / cur[m][s])))
                       for s in inter for m in self.modules]
                d = float(np.mean(kls))
                # Certificate margin: top-2 margin of qbar = mean of the current q_s over I_t and modules
                # (as server/src/stop/edit-released.ts; KL(qbar) <= D_t by joint convexity).
                qbar = np.mean([cur[m][s] for s in inter for m in self.modules], axis=0)
                top = np.sort(qbar)[::-1]
                margin = float(top[0] - top[1]) if len(top) >= 2 else None
        self.prev = cur
        stop = self._advance(view, d, margin)
        return StepDecision(stop=stop, sims=None, kl=d, counter=self.c, margin=margin)


RULES = ("full", "edit", "edit-subspace", "edit-released")


def make_rule(name: str, metadata: EditMetadata | None, probes: list[str], params: Mapping | None = None,
              certificates: Mapping | None = None) -> StopRule:
    if name == "full":
        if params:
            raise RuleParamError(f"rule 'full' takes no parameters, got {dict(params)}")
        return FullRule()
    if metadata is None:
        raise RuleParamError(f"rule '{name}' needs edit-metadata.safetensors")
    if name == "edit":
        return EditRule(metadata, params, certificates)
    if name == "edit-subspace":
        return EditSubspaceRule(metadata, params, certificates)
    if name == "edit-released":
        return EditReleasedRule(metadata, probes, params, certificates)
    raise RuleParamError(f"unknown stop rule '{name}'; expected one of {RULES}")
