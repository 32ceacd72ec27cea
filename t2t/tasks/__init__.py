"""Tasks: a walk converted into a τ²-compatible task (optionally rewritten and judged by an LLM),
task sets on disk, and τ²-bench interop.
"""

from t2t.tasks.convert import convert_walk, request_text
from t2t.tasks.phrasing import (
    Mention,
    Phrasebook,
    article,
    last_digits,
    listing,
    money,
    option_phrase,
    payment_method,
    phrasebook_of,
    spoken,
    spoken_date,
    the_one_with,
    words,
)
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
    "Mention",
    "Phrasebook",
    "article",
    "convert_walk",
    "judge_task",
    "judge_task_async",
    "keep_by_judge",
    "last_digits",
    "listing",
    "money",
    "option_phrase",
    "payment_method",
    "open_task_set",
    "phrasebook_of",
    "read_tau2_tasks",
    "replay_tau2_tasks",
    "request_text",
    "rewrite_task",
    "rewrite_task_async",
    "spoken",
    "spoken_date",
    "the_one_with",
    "task_to_tau2",
    "with_judge_scores",
    "words",
    "write_tau2_tasks",
]
