import os
import sys
from pathlib import Path

# Before anything can load onnxruntime (a test may import it before edit_dllm): its native library
# reads this once, when it loads, and otherwise keeps a device id and an event store under
# ~/.cache/Microsoft/DeveloperTools/.onnxruntime (issue 22; test_telemetry.py checks it).
os.environ["ORT_DISABLE_TELEMETRY"] = "1"

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
torch.set_num_threads(1)
