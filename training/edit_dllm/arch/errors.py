"""The converter's typed error: every message names the file and what was expected there."""
from __future__ import annotations

from pathlib import Path


class ConvertError(ValueError):
    """Bad input to the converter (checkpoint directory, adapter, metadata). Message: file + expectation."""

    def __init__(self, file: str | Path, message: str) -> None:
        self.file = str(file)
        super().__init__(f"{file}: {message}")
