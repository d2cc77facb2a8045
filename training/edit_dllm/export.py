"""ONNX export of a (peft-LoRA) masked-diffusion LM with EDIT probe outputs, and the 4-file bundle.

Public API (build.py wires these):

    export_onnx(model, probe_paths, out_path, opset=18, external_data=False) -> list[str]  # ONNX output names
    check_parity(model, probe_paths, onnx_path, vocab_size, ...) -> dict[str, float]      # max abs diffs
    export_bundle(model, out_dir, *, name, tokenizer_path, metadata_path, ids, vocab_size,
                  model_info, tasks, default_task, probes="all-qkv", generation=None, ...) -> dict

`model` is ANY torch module whose forward takes `input_ids` int64 [B, S] and returns logits
[B, S, V] (the peft-wrapped MaskedDiffusionLM, or LLaDA with a LoRA adapter). A probe is the dotted
path of a LoRA-B linear (e.g. `base_model.model.blocks.3.attn.q_proj.lora_B.default`); its output
is B(A x), i.e. the LoRA branch BEFORE peft multiplies by the scaling alpha/r (Eq 5's f_s). We read
it with forward hooks, so LoRA stays as separate MatMuls in the graph (nothing is merged).

Command line (re-export a trained checkpoint):
    python -m edit_dllm.export --checkpoint CKPT.pt --out model.onnx --probes default|all-qkv
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import warnings
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch
import torch.nn as nn

BUNDLE_FORMAT = "edit-bundle/1"
DEFAULT_GENERATION = {"gen_length": 64, "block_length": 32, "steps": 32, "schedule": "uniform"}
# Used until calibrate.py overwrites them (App. B.1: tau_blk is fixed at 1.0).
DEFAULT_STOP = {
    "rule": "edit",
    "params": {"tau": 1.0, "deltaFirst": 0.1, "omegaFirst": 4, "deltaLater": 0.1, "omegaLater": 4,
               "polishSteps": 0},
}
DEFAULT_CERTIFICATES = {"alphaHat": 0.9, "q": 0.0, "beta": 0.1}

_LORA_B = re.compile(r"^(?P<module>.+)\.lora_B\.(?P<adapter>[^.]+)$")


class ProbePathError(ValueError):
    """A probe path names no module; the message lists the LoRA-B modules that do exist."""


def lora_b_paths(model: nn.Module) -> list[str]:
    """Every LoRA-B linear of the model (peft names them `<module>.lora_B.<adapter>`)."""
    return [n for n, m in model.named_modules() if _LORA_B.match(n) and isinstance(m, nn.Linear)]


def clean_module_name(probe_path: str) -> str:
    """`base_model.model.blocks.3.attn.q_proj.lora_B.default` -> `blocks.3.attn.q_proj`."""
    m = _LORA_B.match(probe_path)
    name = m.group("module") if m else probe_path
    return name[len("base_model.model."):] if name.startswith("base_model.model.") else name


def _layer_index(path: str) -> int:
    nums = [int(x) for x in path.split(".") if x.isdigit()]
    return nums[-1] if nums else -1


def resolve_probes(model: nn.Module, probes: str | Sequence[str]) -> list[str]:
    """`default` = Q LoRA-B of the last block (the paper's choice, §2.2.1); `all-qkv` = every Q/K/V
    LoRA-B (what the released code watches); or an explicit list of LoRA-B paths."""
    candidates = lora_b_paths(model)
    if isinstance(probes, str) and probes in ("default", "all-qkv"):
        qkv = [p for p in candidates if re.search(r"(^|\.)(q_proj|k_proj|v_proj)$", _LORA_B.match(p).group("module"))]
        if not qkv:
            raise ProbePathError(f"model has no q_proj/k_proj/v_proj LoRA-B modules; LoRA-B modules found: {candidates}")
        if probes == "all-qkv":
            return qkv
        q = [p for p in qkv if _LORA_B.match(p).group("module").endswith("q_proj")]
        return [max(q, key=_layer_index)]
    paths = [probes] if isinstance(probes, str) else list(probes)
    names = dict(model.named_modules())
    for p in paths:
        if p not in names:
            raise ProbePathError(
                f"probe module '{p}' does not exist in the model. LoRA-B modules you can probe: "
                + (", ".join(candidates) if candidates else "(none: is the model wrapped with peft LoRA?)"))
    return paths


class ProbedModel(nn.Module):
    """forward(input_ids) -> (logits, act_1, ..., act_n): the model plus its probes' outputs."""

    def __init__(self, model: nn.Module, probe_paths: Sequence[str]) -> None:
        super().__init__()
        self.model = model
        self.probe_paths = resolve_probes(model, list(probe_paths))
        self.names = [clean_module_name(p) for p in self.probe_paths]
        self._captured: dict[int, torch.Tensor] = {}
        self._handles = []
        for i, p in enumerate(self.probe_paths):
            mod = model.get_submodule(p)
            self._handles.append(mod.register_forward_hook(self._hook(i)))

    def _hook(self, i: int):
        def hook(_mod, _inp, out):
            self._captured[i] = out
        return hook

    def forward(self, input_ids: torch.Tensor):
        self._captured.clear()
        logits = self.model(input_ids)
        if not isinstance(logits, torch.Tensor):  # HF-style outputs (LLaDA): take .logits
            logits = logits.logits
        return (logits,) + tuple(self._captured[i] for i in range(len(self.probe_paths)))

    def remove_hooks(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()


class CacheProbedModel(nn.Module):
    """The tiny MaskedDiffusionLM (optionally peft-wrapped) in the cache-graph signature of
    onnx_cache_export.py: forward(ids, position_ids, past, want) -> (logits, {module: act}, presents),
    the probes being the LoRA-B outputs (read with hooks, as ProbedModel) of the wanted rows only."""

    def __init__(self, model: nn.Module, probe_paths: Sequence[str]) -> None:
        super().__init__()
        self.model = model
        self.base = model.get_base_model() if hasattr(model, "get_base_model") else model
        self.probed = ProbedModel(model, probe_paths)  # registers the hooks; its forward is not used
        self.names = self.probed.names

    def forward(self, input_ids, position_ids, past, want):
        self.probed._captured.clear()
        logits, presents, rows = self.base.forward_cache(input_ids, position_ids, past, want)
        acts = {n: self.probed._captured[i].index_select(1, rows) for i, n in enumerate(self.names)}
        return logits, acts, presents

    def remove_hooks(self) -> None:
        self.probed.remove_hooks()


def export_cache_bundle_graph(model: nn.Module, probe_paths: Sequence[str] | str, out_path: str | Path,
                              opset: int = 18) -> tuple[list[str], dict]:
    """The tiny model's cache graph (edit-bundle/2): returns (output names, bundle model.cache entry).
    Raises if ONNX/PyTorch parity (past length 0 and > 0) exceeds 1e-4."""
    from .onnx_cache_export import check_cache_parity, export_cache_onnx
    paths = resolve_probes(model, probe_paths)
    wrapper = CacheProbedModel(model.eval(), paths).eval()
    cfg = wrapper.base.cfg
    geometry = {"n_layers": cfg.n_layers, "kv_heads": cfg.n_heads, "head_dim": cfg.d_model // cfg.n_heads,
                "probe_names": wrapper.names, "vocab_size": cfg.vocab_size}
    try:
        names = export_cache_onnx(wrapper, out_path, opset=opset, **geometry)
        diffs = check_cache_parity(wrapper, out_path, **geometry)
    finally:
        wrapper.remove_hooks()
    bad = {k: v for k, v in diffs.items() if v > 1e-4}
    if bad:
        raise RuntimeError(f"cache-graph ONNX parity check failed (max abs diff > 1e-4): {bad}")
    return names, {"layers": cfg.n_layers, "kv_heads": cfg.n_heads, "head_dim": cfg.d_model // cfg.n_heads}


def reexport_cache_graph(bundle_dir: str | Path, out_onnx: str | Path | None = None) -> dict:
    """Re-export a bundle's model.onnx as the cache graph from its reference/ weights (the same probes as
    bundle.json lists) and record model.cache / max_len / positions / shift in its bundle.json (written
    only when out_onnx is the bundle's own model.onnx). Returns the updated bundle.json dict."""
    from .reference_weights import load_reference_model
    bundle_dir = Path(bundle_dir)
    bundle = read_bundle_json(bundle_dir)
    model = load_reference_model(bundle_dir)
    wanted = list(bundle["probes"].values())
    paths = [p for p in lora_b_paths(model) if clean_module_name(p) in wanted]
    paths.sort(key=lambda p: wanted.index(clean_module_name(p)))
    if len(paths) != len(wanted):
        raise ProbePathError(f"bundle.json probes {wanted} not all found among the reference model's LoRA-B modules")
    target = Path(out_onnx) if out_onnx else bundle_dir / "model.onnx"
    _, cache = export_cache_bundle_graph(model, paths, target)
    cfg = (model.get_base_model() if hasattr(model, "get_base_model") else model).cfg
    bundle["model"].update({"max_len": cfg.max_len if cfg.positions == "learned" else None,
                            "positions": "rope" if cfg.positions == "rope" else "learned",
                            "shift": False, "cache": cache})
    if target.resolve() == (bundle_dir / "model.onnx").resolve():
        write_bundle_json(bundle_dir, bundle)
    return bundle


def output_names(probe_paths: Sequence[str]) -> list[str]:
    return ["logits"] + [f"act.{clean_module_name(p)}" for p in probe_paths]


def export_onnx(model: nn.Module, probe_paths: Sequence[str] | str, out_path: str | Path, opset: int = 18,
                external_data: bool = False, example_seq: int = 24, dynamo: bool = True) -> list[str]:
    """Export with torch.onnx's dynamo exporter (torch.export based: a clean graph, ~half the nodes of
    the legacy tracer, dynamic `batch`/`seq` axes verified in tests). Returns the output names.

    The dynamo exporter emits opset >= 18 (its down-conversion to 17 fails on this graph);
    `dynamo=False` uses the legacy TorchScript tracer, which can emit opset 17 (also verified).
    `external_data=True` stores weights next to the .onnx file (needed beyond the 2 GB protobuf
    limit, e.g. LLaDA-8B)."""
    paths = resolve_probes(model, probe_paths)
    model.eval()
    wrapper = ProbedModel(model, paths).eval()
    names = output_names(paths)
    example = torch.full((2, example_seq), 5, dtype=torch.int64)
    batch, seq = torch.export.Dim("batch", min=1), torch.export.Dim("seq", min=2)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if not dynamo:
            axes = {n: {0: "batch", 1: "seq"} for n in ["input_ids"] + names}
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")
                torch.onnx.export(wrapper, (example,), str(out_path), input_names=["input_ids"], output_names=names,
                                  dynamic_axes=axes, opset_version=opset, dynamo=False)
            if external_data:
                import onnx
                m = onnx.load(str(out_path))
                onnx.save_model(m, str(out_path), save_as_external_data=True, all_tensors_to_one_file=True,
                                location=out_path.name + ".data")
            return names
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                wrapper, (example,), input_names=["input_ids"], output_names=names,
                dynamic_shapes={"input_ids": {0: batch, 1: seq}}, opset_version=opset, dynamo=True,
                external_data=external_data, verbose=False)
        program.save(str(out_path), external_data=external_data)
    finally:
        wrapper.remove_hooks()
    return names


def left_pad_positions(ids: np.ndarray, pad_id: int | None) -> np.ndarray:
    """Position ids [B, S]: 0, 1, ... after each row's LEADING run of `pad_id` (left padding, position 0).
    A pad id anywhere else is a token with its own position: converted bundles have pad = eos, and an
    eos inside the sequence must not repeat a position (server/src/model/onnx-model.ts does the same)."""
    b, s = ids.shape
    lead = (np.cumprod(ids == pad_id, axis=1).sum(axis=1) if pad_id is not None
            else np.zeros(b, dtype=np.int64))
    return np.maximum(np.arange(s)[None, :] - lead[:, None], 0).astype(np.int64)


class OnnxForward:
    """Runs a bundle's model.onnx: ids [B, S] -> (logits, {module: act}) as torch tensors."""

    def __init__(self, onnx_path: str | Path, threads: int = 1, pad_id: int | None = None) -> None:
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        # No spinning after a run: the sampler's own numpy work runs between forwards.
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
        # A cache graph (onnx_cache_export.py) runs here without a cache: past length 0, every row wanted.
        self.past = [i for i in self.session.get_inputs() if i.name.startswith("past_")]
        self.outputs = [o.name for o in self.session.get_outputs() if not o.name.startswith("present_")]
        if pad_id is None and self.past and (Path(onnx_path).parent / "bundle.json").exists():
            pad_id = int(read_bundle_json(Path(onnx_path).parent)["ids"]["pad"])  # positions restart after left pads
        self.pad_id = pad_id

    def feed(self, ids: np.ndarray) -> dict[str, np.ndarray]:
        feed = {"input_ids": ids}
        if self.past:
            b, s = ids.shape
            feed["position_ids"] = left_pad_positions(ids, self.pad_id)
            feed["want"] = np.array([0, s], dtype=np.int64)
            for i in self.past:
                feed[i.name] = np.zeros((b, i.shape[1], 0, i.shape[3]),
                                        dtype=np.float16 if i.type == "tensor(float16)" else np.float32)
        return feed

    def __call__(self, ids: torch.Tensor):
        res = self.session.run(self.outputs, self.feed(ids.cpu().numpy().astype(np.int64)))
        out = dict(zip(self.outputs, res))
        acts = {k[len("act."):]: torch.from_numpy(v) for k, v in out.items() if k.startswith("act.")}
        return torch.from_numpy(out["logits"]), acts


def check_parity(model: nn.Module, probe_paths: Sequence[str] | str, onnx_path: str | Path, vocab_size: int,
                 pad_id: int | None = None, shapes: Sequence[tuple[int, int]] = ((1, 7), (3, 19)),
                 seed: int = 0) -> dict[str, float]:
    """Max abs difference ONNX Runtime vs PyTorch per output on random ids (left padding included
    when `pad_id` is given). Callers assert <= 1e-4."""
    paths = resolve_probes(model, probe_paths)
    wrapper = ProbedModel(model.eval(), paths).eval()
    ort_fwd = OnnxForward(onnx_path)
    g = torch.Generator().manual_seed(seed)
    worst: dict[str, float] = {}
    try:
        for b, s in shapes:
            ids = torch.randint(0, vocab_size, (b, s), generator=g)
            if pad_id is not None:
                ids[ids == pad_id] = (pad_id + 1) % vocab_size
                if b > 1:
                    ids[0, : s // 3] = pad_id
            with torch.no_grad():
                ref = wrapper(ids)
            res = ort_fwd.session.run(None, {"input_ids": ids.numpy()})
            for name, r, o in zip(output_names(paths), ref, res):
                d = float(np.abs(r.detach().numpy() - o).max())
                worst[name] = max(worst.get(name, 0.0), d)
    finally:
        wrapper.remove_hooks()
    return worst


def _task_entry(spec: Mapping) -> dict:
    if "template" not in spec or "{prompt}" not in spec["template"]:
        raise ValueError(f"task spec needs a 'template' containing '{{prompt}}', got {spec!r}")
    return {
        "template": spec["template"],
        "stop": json.loads(json.dumps(spec.get("stop", DEFAULT_STOP))),
        "certificates": dict(spec.get("certificates", DEFAULT_CERTIFICATES)),
    }


def export_bundle(model: nn.Module, out_dir: str | Path, *, name: str, tokenizer_path: str | Path,
                  metadata_path: str | Path, ids: Mapping[str, int], vocab_size: int, model_info: Mapping,
                  tasks: Mapping[str, Mapping], default_task: str, probes: str | Sequence[str] = "all-qkv",
                  generation: Mapping | None = None, opset: int = 18, parity_tol: float | None = 1e-4) -> dict:
    """Write model.onnx, tokenizer.json, edit-metadata.safetensors and bundle.json to `out_dir`.

    ids: {"mask", "eos", "pad", "unk"}; model_info: {"d_model", "n_layers", "params"};
    tasks: {task: {"template": "{prompt}=", "stop": {...}?, "certificates": {...}?}} (stop and
    certificates default to placeholders that calibrate.py overwrites). The default probe is the Q
    LoRA-B of the last block and must be among `probes`. Returns the bundle.json dict.
    Raises if the ONNX/PyTorch parity check exceeds `parity_tol` (None skips the check)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for k in ("mask", "eos", "pad", "unk"):
        if k not in ids:
            raise ValueError(f"ids must contain '{k}' (got {dict(ids)})")
    if default_task not in tasks:
        raise ValueError(f"default_task '{default_task}' is not one of the tasks {list(tasks)}")
    paths = resolve_probes(model, probes)
    default_path = resolve_probes(model, "default")[0]
    if default_path not in paths:
        paths = [default_path] + paths
    names = export_onnx(model, paths, out / "model.onnx", opset=opset)
    if parity_tol is not None:
        diffs = check_parity(model, paths, out / "model.onnx", vocab_size, pad_id=ids["pad"])
        bad = {k: v for k, v in diffs.items() if v > parity_tol}
        if bad:
            raise RuntimeError(f"ONNX parity check failed (max abs diff > {parity_tol}): {bad}")
    if Path(tokenizer_path).resolve() != (out / "tokenizer.json").resolve():
        shutil.copyfile(tokenizer_path, out / "tokenizer.json")
    if Path(metadata_path).resolve() != (out / "edit-metadata.safetensors").resolve():
        shutil.copyfile(metadata_path, out / "edit-metadata.safetensors")
    bundle = {
        "format": BUNDLE_FORMAT,
        "name": name,
        "ids": {k: int(ids[k]) for k in ("mask", "eos", "pad", "unk")},
        "vocab_size": int(vocab_size),
        "model": {k: int(v) if isinstance(v, (int, np.integer)) else v for k, v in model_info.items()},
        "generation": dict(generation or DEFAULT_GENERATION),
        "probes": {n: n[len("act."):] for n in names[1:]},
        "default_probe": clean_module_name(default_path),
        "tasks": {t: _task_entry(s) for t, s in tasks.items()},
        "default_task": default_task,
    }
    write_bundle_json(out, bundle)
    return bundle


def read_bundle_json(bundle_dir: str | Path) -> dict:
    return json.loads((Path(bundle_dir) / "bundle.json").read_text())


def write_bundle_json(bundle_dir: str | Path, bundle: Mapping) -> None:
    (Path(bundle_dir) / "bundle.json").write_text(json.dumps(bundle, indent=2) + "\n")


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", help="checkpoint written by train.py (loaded with edit_dllm.checkpoint_io)")
    ap.add_argument("--cache-bundle", help="re-export this bundle's model.onnx as the cache graph from its reference/ weights")
    ap.add_argument("--out")
    ap.add_argument("--probes", default="default", help="default | all-qkv | comma-separated LoRA-B paths")
    ap.add_argument("--opset", type=int, default=18)
    ap.add_argument("--external-data", action="store_true")
    ap.add_argument("--legacy", action="store_true", help="TorchScript tracer (allows --opset 17)")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    if a.cache_bundle:
        bundle = reexport_cache_graph(a.cache_bundle, a.out)
        print(json.dumps({"bundle": a.cache_bundle, "model": bundle["model"]}))
        return
    if not a.checkpoint or not a.out:
        ap.error("--checkpoint and --out are required (or --cache-bundle DIR)")
    from .checkpoint_io import load_peft_model
    model, _ = load_peft_model(a.checkpoint)
    probes = a.probes if a.probes in ("default", "all-qkv") else a.probes.split(",")
    names = export_onnx(model, probes, a.out, opset=a.opset, external_data=a.external_data, dynamo=not a.legacy)
    print(json.dumps({"out": a.out, "outputs": names}))


if __name__ == "__main__":
    main()
