"""The embedded model's build: pretrain -> refine -> refine2 -> refine3 -> sft(+recorder) -> export -> calibrate -> golden -> report.

    python -m edit_dllm.build --config {micro,default} --out DIR [--force] [--stages a,b,...]

Each stage skips when its output exists (unless --force), so an interrupted build resumes and a
build whose pretraining ran on its own (scripts/run-default-build.sh) continues from SFT. Seeds are
fixed. The export/calibrate/golden/report stages use export.py, calibrate.py, golden.py and
report.py; a stage whose module/function is missing is recorded as "unavailable" and the build
stops there (exit 0: rerun once those modules exist). Wall time per stage, parameter counts, the SFT
accuracy and the adapter-vs-recorded u cosines go to DIR/build-record.json.

Layout of DIR: pretrain/{model.pt,ckpt.pt,log.jsonl}, refine/ and refine2/ (same files), sft/{model.pt,adapter/,edit-metadata.safetensors,
log.jsonl}, tokenizer.json, bundle/ (the 4-file bundle; --bundle-dir), calibration.json, golden/
(--golden-dir), report.json.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import torch

from .tasks import TASKS
from .tokenizer import CharCodec, build as build_tokenizer, save as save_tokenizer
from .train import CONFIGS, GEN_LENGTH, BLOCK_LENGTH, TrainConfig, later_stage, pretrain, refine

STAGES = ("pretrain", "refine", "refine2", "refine3", "sft", "export", "calibrate", "golden", "report")
BUNDLE_NAME = {"default": "edit-tiny-char", "micro": "edit-micro-char"}
DEFAULT_TASK = "arith"
# How many items the later stages use: (calibration val items, golden prompts, report test items) per task.
EVAL_SIZES = {"default": (400, 3, 500), "micro": (4, 1, 4)}


class StageUnavailable(RuntimeError):
    """A later stage's module (written by another part of the toolkit) is not there yet."""


def _need(module: str, attr: str):
    import importlib
    try:
        mod = importlib.import_module(f"edit_dllm.{module}")
    except ImportError as e:
        raise StageUnavailable(f"edit_dllm.{module} cannot be imported ({e})") from e
    if not hasattr(mod, attr):
        raise StageUnavailable(f"edit_dllm.{module} has no {attr}()")
    return getattr(mod, attr)


class Build:
    def __init__(self, cfg: TrainConfig, out: Path, force: bool = False, log: Callable[[str], None] = print,
                 bundle_dir: Path | None = None, golden_dir: Path | None = None) -> None:
        self.cfg, self.out, self.force, self.log = cfg, out, force, log
        self.codec = CharCodec()
        self.record_path = out / "build-record.json"
        self.record = json.loads(self.record_path.read_text()) if self.record_path.exists() else {}
        self.record.setdefault("stages", {})
        self.record["config"] = asdict(cfg)
        self.bundle_dir = bundle_dir or out / "bundle"
        self.golden_dir = golden_dir or out / "golden"
        self.sft_ckpt = out / "sft" / "model.pt"
        n_val, n_golden, n_test = EVAL_SIZES.get(cfg.name, EVAL_SIZES["default"])
        self.n_val, self.n_golden, self.n_test = n_val, n_golden, n_test
        self._forward = None

    # ---------------------------------------------------------------- plumbing
    def save_record(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        tmp = self.record_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.record, indent=1) + "\n")
        tmp.replace(self.record_path)

    def run(self, stages: tuple[str, ...] = STAGES) -> bool:
        """Returns True when every requested stage is done (ran or skipped)."""
        self.out.mkdir(parents=True, exist_ok=True)
        save_tokenizer(build_tokenizer(), self.out / "tokenizer.json")
        for name in stages:
            fn = getattr(self, f"stage_{name}")
            t0 = time.time()
            try:
                status = fn()
            except StageUnavailable as e:
                self.record["stages"][name] = {"status": "unavailable", "reason": str(e)}
                self.save_record()
                self.log(f"[build] {name}: unavailable ({e}); stopping here, rerun when it exists")
                return False
            wall = round(time.time() - t0, 1)
            prev = self.record["stages"].get(name, {})
            if status == "skipped" and prev.get("status") == "done":
                prev["skipped_rerun"] = True
            else:
                self.record["stages"][name] = {"status": status, "wall_s": wall}
            self.save_record()
            self.log(f"[build] {name}: {status} ({wall} s)")
        return True

    def _skip(self, *paths: Path) -> bool:
        return not self.force and all(p.exists() for p in paths)

    def forward(self):
        if self._forward is None:
            self._forward = _need("checkpoint_io", "load_forward")(self.sft_ckpt)
        return self._forward

    # ---------------------------------------------------------------- stages
    def stage_pretrain(self) -> str:
        final = self.out / "pretrain" / "model.pt"
        if self._skip(final):
            self._note_pretrain_wall()
            return "skipped"
        if self.force:
            shutil.rmtree(self.out / "pretrain", ignore_errors=True)
        pretrain(self.cfg, self.out, self.codec)
        return "done"

    def stage_refine(self, name: str = "refine") -> str:
        if not later_stage(self.cfg, name).steps:
            return "skipped"
        final = self.out / name / "model.pt"
        if self._skip(final):
            return "skipped"
        if self.force:
            shutil.rmtree(self.out / name, ignore_errors=True)
        refine(self.cfg, self.out, self.codec, stage=name)
        return "done"

    def stage_refine2(self) -> str:
        return self.stage_refine("refine2")

    def stage_refine3(self) -> str:
        return self.stage_refine("refine3")

    def _note_pretrain_wall(self) -> None:
        """Pretraining that ran outside build (the background script): take its wall time from its log."""
        if self.record["stages"].get("pretrain", {}).get("status") == "done":
            return
        log = self.out / "pretrain" / "log.jsonl"
        if log.exists():
            elapsed = [json.loads(l).get("elapsed_s") for l in log.read_text().splitlines() if '"elapsed_s"' in l]
            if elapsed:
                self.record["stages"]["pretrain"] = {"status": "done", "wall_s": elapsed[-1], "ran": "outside build"}

    def stage_sft(self) -> str:
        from .adapter_metadata import compare_with_recorded
        from .sft import load_sft_model, run_sft, sft_accuracy
        meta = self.out / "sft" / "edit-metadata.safetensors"
        if self._skip(self.sft_ckpt, meta):
            return "skipped"
        if self.force:
            shutil.rmtree(self.out / "sft", ignore_errors=True)
        run_sft(self.cfg, self.out, self.codec)
        model = load_sft_model(self.sft_ckpt)
        lora = sum(p.numel() for n, p in model.named_parameters() if "lora_" in n)
        total = sum(p.numel() for p in model.parameters())
        self.record["params"] = {"base": total - lora, "lora": lora, "total": total}
        self.record["adapter_vs_recorded"] = compare_with_recorded(self.out / "sft" / "adapter" / "adapter_model.safetensors", meta)
        evals = [json.loads(l)["eval_acc"] for l in (self.out / "sft" / "log.jsonl").read_text().splitlines()
                 if '"eval_acc"' in l]
        self.record["sft_val_accuracy"] = evals[-1] if evals else sft_accuracy(model, self.codec, self.cfg, "val",
                                                                               self.cfg.eval_items)
        return "done"

    def stage_export(self) -> str:
        export_bundle = _need("export", "export_bundle")
        if self._skip(self.bundle_dir / "bundle.json", self.bundle_dir / "model.onnx"):
            return "skipped"
        from .sft import load_sft_model
        model = load_sft_model(self.sft_ckpt)
        ids = self.codec.ids
        params = sum(p.numel() for p in model.parameters())
        self.record.setdefault("params", {})["exported"] = params
        export_bundle(model, self.bundle_dir, name=BUNDLE_NAME.get(self.cfg.name, f"edit-{self.cfg.name}-char"),
                      tokenizer_path=self.out / "tokenizer.json",
                      metadata_path=self.out / "sft" / "edit-metadata.safetensors",
                      ids=ids.to_dict(), vocab_size=self.codec.vocab_size,
                      model_info={"d_model": self.cfg.d_model, "n_layers": self.cfg.n_layers, "params": params},
                      tasks={t: {"template": TASKS[t].TEMPLATE} for t in self.cfg.tasks},
                      default_task=DEFAULT_TASK if DEFAULT_TASK in self.cfg.tasks else self.cfg.tasks[0],
                      probes="all-qkv",
                      generation={"gen_length": GEN_LENGTH, "block_length": BLOCK_LENGTH, "steps": 32,
                                  "schedule": "uniform"})
        # PyTorch weights beside the ONNX model, so `edit-dllm bench` can time the reference sampler.
        from .reference_weights import save_reference_weights
        save_reference_weights(model, self.bundle_dir)
        # Ship the cache graph (past K/V in, wanted rows out; issue 11), exported from the same weights.
        from .export import reexport_cache_graph
        reexport_cache_graph(self.bundle_dir)
        return "done"

    def stage_calibrate(self) -> str:
        calibrate = _need("calibrate", "calibrate")
        rec = self.out / "calibration.json"
        if self._skip(rec):
            return "skipped"
        val = {t: TASKS[t].generate("val", self.n_val) for t in self.cfg.tasks}
        calibrate(self.bundle_dir, self.forward(), val, n_val=self.n_val, record_path=rec)
        return "done"

    def stage_golden(self) -> str:
        write_golden = _need("golden", "write_golden")
        default_prompts = _need("golden", "default_prompts")
        bundle_cls = _need("sampler", "Bundle")
        gdir = self.golden_dir
        if not self.force and gdir.exists() and any(gdir.iterdir()):
            return "skipped"
        prompts = default_prompts(bundle_cls.load(self.bundle_dir), self.n_golden)
        write_golden(self.bundle_dir, self.forward(), prompts, gdir, provider="pytorch")
        return "done"

    def stage_report(self) -> str:
        write_report = _need("report", "write_report")
        out_json = self.out / "report.json"
        if self._skip(out_json):
            return "skipped"
        test = {t: TASKS[t].generate("test", self.n_test) for t in self.cfg.tasks}
        # The adapter's B matrices; the bundle's reference weights hold the same B's (LoRA unmerged).
        candidates = (self.out / "sft" / "adapter" / "adapter_model.safetensors",
                      self.bundle_dir / "reference" / "model.safetensors")
        adapter = next((c for c in candidates if c.exists()), None)
        write_report(self.bundle_dir, self.forward(), test, n_test=self.n_test, out_json=out_json, adapter=adapter)
        return "done"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", choices=sorted(CONFIGS), default="default")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--force", action="store_true", help="rerun stages whose outputs exist")
    ap.add_argument("--stages", default=",".join(STAGES), help=f"comma-separated subset of {','.join(STAGES)}")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: the config's)")
    ap.add_argument("--bundle-dir", type=Path, default=None, help="where the bundle goes (default: OUT/bundle)")
    ap.add_argument("--golden-dir", type=Path, default=None, help="where golden traces go (default: OUT/golden)")
    a = ap.parse_args(argv)
    stages = tuple(s for s in a.stages.split(",") if s)
    bad = [s for s in stages if s not in STAGES]
    if bad:
        ap.error(f"unknown stages {bad}; expected a subset of {STAGES}")
    cfg = CONFIGS[a.config]
    if a.threads:
        cfg = TrainConfig(**{**asdict(cfg), "threads": a.threads})
    torch.set_num_threads(cfg.threads)
    ok = Build(cfg, a.out, force=a.force, bundle_dir=a.bundle_dir, golden_dir=a.golden_dir).run(stages)
    print(json.dumps({"out": str(a.out), "complete": ok}))
    sys.exit(0)


if __name__ == "__main__":
    main()
