"""Task registry: name -> module with NAME, TEMPLATE, generate(split), check(item, text), extract_answer(text)."""
from __future__ import annotations

from types import ModuleType

from . import arith, code, countdown, sudoku
from .base import MAX_ANSWER_CHARS, MAX_PROMPT_CHARS, SPLITS, Item, TaskError

TASKS: dict[str, ModuleType] = {m.NAME: m for m in (countdown, sudoku, arith, code)}


def get_task(name: str) -> ModuleType:
    if name not in TASKS:
        raise TaskError(f"unknown task {name!r}; expected one of {sorted(TASKS)}")
    return TASKS[name]


def render_prompt(task: str, prompt: str) -> str:
    """Prompt text -> model input text via the task's template (bundle.json `template`)."""
    return get_task(task).TEMPLATE.replace("{prompt}", prompt)


__all__ = ["TASKS", "get_task", "render_prompt", "Item", "TaskError", "SPLITS",
           "MAX_PROMPT_CHARS", "MAX_ANSWER_CHARS"]
