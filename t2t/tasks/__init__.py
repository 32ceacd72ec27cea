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
from t2t.tasks.task_set import open_task_set
from t2t.tasks.tau2 import read_tau2_tasks, replay_tau2_tasks, task_to_tau2, write_tau2_tasks

__all__ = [
    "JUDGE_CRITERIA",
    "convert_walk",
    "judge_task",
    "judge_task_async",
    "keep_by_judge",
    "open_task_set",
    "read_tau2_tasks",
    "replay_tau2_tasks",
    "request_text",
    "rewrite_task",
    "rewrite_task_async",
    "task_to_tau2",
    "with_judge_scores",
    "write_tau2_tasks",
]
