"""Tasks: a walk converted into a τ²-compatible task (optionally rewritten and judged by an LLM),
task sets on disk, and τ²-bench interop.
"""

from t2t.tasks.convert import convert_walk, request_text
from t2t.tasks.rewrite import (
    JUDGE_CRITERIA,
    judge_task,
    judge_task_async,
    keep_by_judge,
    rewrite_task,
    rewrite_task_async,
    with_judge_scores,
)

__all__ = [
    "JUDGE_CRITERIA",
    "convert_walk",
    "judge_task",
    "judge_task_async",
    "keep_by_judge",
    "request_text",
    "rewrite_task",
    "rewrite_task_async",
    "with_judge_scores",
]
