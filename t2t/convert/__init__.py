"""Conversion: a walk into a τ²-compatible task, optionally rewritten and judged by an LLM."""

from t2t.convert.llm_rewrite import (
    JUDGE_CRITERIA,
    judge_task,
    judge_task_async,
    keep_by_judge,
    rewrite_task,
    rewrite_task_async,
    with_judge_scores,
)
from t2t.convert.template import convert_walk, request_text

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
