"""EDIT SFT-phase toolkit: tasks, char tokenizer, masked-diffusion training, AdamW-evolution recorder."""
import os

# ONNX Runtime's native library keeps a device id and queued telemetry events under the user's cache
# folder unless this is set before it loads (issue 15); every module that runs ORT imports this package
# first, so no export, parity check or reference run of ours writes them.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
