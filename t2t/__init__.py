"""t2t: turn exploration of tool-using domains into verifiable agent tasks with hard user intents.

The top level re-exports the public API; heavy libraries (litellm, plotly, torch, transformers)
are imported only by the functions that need them, so `import t2t` stays well under a second.
"""

from t2t.domains import builtin_domains, load_domain, read_db, register_domain
from t2t.env import Domain, Environment, RecordChange, Rule, State, Tool, rule, tool
from t2t.errors import (
    ConfigError,
    DataError,
    DomainError,
    MissingDependencyError,
    ModelCallError,
    T2TError,
    ToolCallError,
)
from t2t.schema import Action, Episode, Message, Reward, Task, ToolCall, ToolResult, Trajectory
from t2t.verify import (
    ReplayResult,
    check_episode_state,
    compare_states,
    replay_calls,
    replay_gold,
    verify_task,
)

__version__ = "0.1.0"

__all__ = [
    "Action",
    "ConfigError",
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
    "Rule",
    "State",
    "T2TError",
    "Task",
    "Tool",
    "ToolCall",
    "ToolCallError",
    "ToolResult",
    "Trajectory",
    "builtin_domains",
    "check_episode_state",
    "compare_states",
    "load_domain",
    "read_db",
    "register_domain",
    "replay_calls",
    "replay_gold",
    "rule",
    "tool",
    "verify_task",
]
