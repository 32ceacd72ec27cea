"""Benchmark: agents talk to a simulated user and the tools in closed loop; runs, scores, pass^k."""

from t2t.benchmark.agent import Agent, agent_system_prompt
from t2t.benchmark.config import RunConfig, RunStats, load_run_config
from t2t.benchmark.episode import TERMINATION_REASONS, run_episode
from t2t.benchmark.grounding import (
    UngroundedValue,
    episode_grounded,
    is_grounded,
    ungrounded_values,
)
from t2t.benchmark.passk import (
    fold_intervals,
    format_table,
    interval_columns,
    pass_hat_k,
    pass_k_long,
    pass_k_matrix,
    summarize,
)
from t2t.benchmark.probes import PROBES, probe_names
from t2t.benchmark.results import append_episodes, read_episodes
from t2t.benchmark.runner import run_rollouts, run_rollouts_async
from t2t.benchmark.scoring import COMPONENTS, evaluate_episode, score_episode
from t2t.benchmark.uncertainty import bootstrap_ci, format_interval, paired_difference
from t2t.benchmark.users import LLMUser, ScriptedUser, User, make_user

__all__ = [
    "COMPONENTS",
    "PROBES",
    "TERMINATION_REASONS",
    "Agent",
    "LLMUser",
    "RunConfig",
    "RunStats",
    "ScriptedUser",
    "UngroundedValue",
    "User",
    "agent_system_prompt",
    "append_episodes",
    "bootstrap_ci",
    "episode_grounded",
    "evaluate_episode",
    "fold_intervals",
    "format_interval",
    "format_table",
    "interval_columns",
    "is_grounded",
    "load_run_config",
    "make_user",
    "paired_difference",
    "pass_hat_k",
    "pass_k_long",
    "pass_k_matrix",
    "probe_names",
    "read_episodes",
    "run_episode",
    "run_rollouts",
    "run_rollouts_async",
    "score_episode",
    "summarize",
    "ungrounded_values",
]
