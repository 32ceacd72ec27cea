"""t2t: turn exploration of tool-using domains into verifiable agent tasks with hard user intents.

The top level re-exports the public API; heavy libraries (litellm, plotly, torch, transformers)
are imported only by the functions that need them, so `import t2t` stays well under a second.
"""

from t2t.core.environment import Domain, Environment, RecordChange, State
from t2t.core.errors import (
    ConfigError,
    DataError,
    DomainError,
    MissingDependencyError,
    ModelCallError,
    T2TError,
    ToolCallError,
)
from t2t.core.replay import (
    ReplayResult,
    check_episode_state,
    compare_states,
    replay_calls,
    replay_gold,
    verify_task,
)
from t2t.core.schema import Action, Episode, Message, Reward, Task, ToolCall, ToolResult, Trajectory
from t2t.core.tools import Rule, Tool, rule, tool
from t2t.domain.loader import builtin_domains, load_domain, read_db, register_domain

__version__ = "0.1.0"

# The generation pipeline loads on first use (`t2t.generate_tasks`), keeping `import t2t` light.
_LAZY = {
    "GenerateConfig": "t2t.generate",
    "YieldReport": "t2t.generate",
    "generate_tasks": "t2t.generate",
    "INTENT_KINDS": "t2t.intents",
    "check_variant": "t2t.intents",
    "build_tool_graph": "t2t.explore",
    "explore_offline": "t2t.explore",
    "walk_from_trajectory": "t2t.explore",
    "convert_walk": "t2t.tasks",
    "RunConfig": "t2t.benchmark.config",
    "RunStats": "t2t.benchmark.config",
    "load_run_config": "t2t.benchmark.config",
    "run_rollouts": "t2t.benchmark.runner",
    "run_rollouts_async": "t2t.benchmark.runner",
    "open_task_set": "t2t.tasks.task_set",
    "read_episodes": "t2t.benchmark.results",
    "evaluate_episode": "t2t.benchmark.scoring",
    "pass_hat_k": "t2t.benchmark.passk",
    "summarize": "t2t.benchmark.passk",
    "bootstrap_ci": "t2t.benchmark.uncertainty",
    "paired_difference": "t2t.benchmark.uncertainty",
    "episode_frame": "t2t.failures.taxonomy",
    "TrajectoryInspector": "t2t.failures.inspector",
    "export_sft": "t2t.finetune.sft",
    "TrainConfig": "t2t.finetune.train",
    "train_sft": "t2t.finetune.train",
    "compare_models": "t2t.finetune.compare",
    "paired_differences": "t2t.finetune.compare",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 't2t' has no attribute {name!r}")


__all__ = [
    "INTENT_KINDS",
    "Action",
    "ConfigError",
    "GenerateConfig",
    "DataError",
    "Domain",
    "DomainError",
    "Environment",
    "Episode",
    "Message",
    "MissingDependencyError",
    "ModelCallError",
    "RecordChange",
    "ReplayResult",
    "Reward",
    "RunConfig",
    "RunStats",
    "Rule",
    "State",
    "T2TError",
    "Task",
    "Tool",
    "ToolCall",
    "TrainConfig",
    "ToolCallError",
    "ToolResult",
    "Trajectory",
    "TrajectoryInspector",
    "YieldReport",
    "bootstrap_ci",
    "build_tool_graph",
    "builtin_domains",
    "check_episode_state",
    "check_variant",
    "compare_models",
    "compare_states",
    "convert_walk",
    "episode_frame",
    "evaluate_episode",
    "explore_offline",
    "export_sft",
    "generate_tasks",
    "load_domain",
    "load_run_config",
    "open_task_set",
    "paired_difference",
    "paired_differences",
    "pass_hat_k",
    "read_episodes",
    "read_db",
    "register_domain",
    "replay_calls",
    "replay_gold",
    "rule",
    "run_rollouts",
    "run_rollouts_async",
    "summarize",
    "tool",
    "train_sft",
    "verify_task",
    "walk_from_trajectory",
]
