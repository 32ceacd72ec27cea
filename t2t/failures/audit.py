"""Audit a task set: how natural its user text reads and how sound its variants are.

A yardstick, not a filter: it changes no task. The wording of generated tasks is to be rebuilt so
that a user sounds like a customer (says why, names things as a customer would, knows no internal
ids or tool names); these metrics are what that rebuild must move, measured the same way before and
after. Each metric is a pure function of a task (the replay ones also of the task's DB).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field
from tqdm.auto import tqdm

from t2t.benchmark.grounding import episode_grounded
from t2t.benchmark.results import read_episodes
from t2t.core.environment import Domain, Environment, canonical_json
from t2t.core.errors import ConfigError
from t2t.core.schema import Episode, Task, ToolCall, UserInstructions
from t2t.intents import INTENT_KINDS, kind_of
from t2t.intents.text import has_internal_id, has_timestamp
from t2t.tasks.task_set import open_task_set

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "AUDIT_COLUMNS",
    "MOTIVE_WORDS",
    "AuditReport",
    "GroundingRow",
    "TaskAudit",
    "audit_frame",
    "audit_rows",
    "audit_task",
    "audit_task_sets",
    "audit_tasks",
    "format_audit",
    "grounding_frame",
    "task_text",
]

MOTIVE_WORDS: tuple[str, ...] = (
    "because",
    "since",
    "as it",
    "as they",
    "so that",
    "due to",
    "arrived",
    "broke",
    "broken",
    "damaged",
    "defective",
    "doesn't work",
    "does not work",
    "stopped working",
    "moved",
    "moving",
    "changed my plans",
    "change of plans",
    "no longer need",
    "don't need",
    "do not need",
    "by mistake",
    "mistakenly",
    "too small",
    "too big",
    "too large",
    "too expensive",
    "wrong",
    "doesn't fit",
    "does not fit",
    "prefer",
    "lost",
    "stolen",
    "fraud",
    "didn't recognize",
    "don't recognize",
    "do not recognize",
    "travelling",
    "traveling",
    "trip",
)
"""Words by which a user says why they call; `motive` is true when the text has one of them
(outside a tool's name: "report card lost" is the tool, not a lost card)."""

_MOTIVE = re.compile(r"\b(?:" + "|".join(re.escape(w) for w in MOTIVE_WORDS) + r")\b", re.I)
_EMAIL = re.compile(r"\S+@\S+")
_SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
# "size: small": a key of one or two lowercase words, a colon, a value.
_KEY_VALUE = re.compile(r"\b[a-z][a-z0-9_]*(?: [a-z][a-z0-9_]*)?: (?=[^\s:])")

AUDIT_COLUMNS: dict[str, str] = {
    "tool_name": "a tool name of the domain appears, as snake_case or as its words",
    "key_value_dump": "two or more `key: value` pairs",
    "snake_case": "a snake_case word (emails aside)",
    "internal_id": "an id a customer would not know (acc_123, gift_card_1309715)",
    "timestamp": "an ISO date-time",
    "motive": "the user says why (see MOTIVE_WORDS)",
    "repeated_gold": "the gold actions hold two identical calls",
    "labelled": "infeasible: the task records who refuses it (`refusal_source`: policy or tool)",
    "policy_only": "infeasible: the tool accepts the forbidden call, only the policy forbids it",
    "degenerate": "infeasible: a request no customer makes (changes nothing, moves a value onto "
    "itself, a value outside the allowed set, an impossible count, an item not in the record)",
    "states_hidden": "infeasible: the request states a fact the refusal rests on (`hidden`)",
    "change_of_mind": "changing: the user changes their mind (not only adds a second request)",
    "noop_gold": "changing: the gold actions leave the initial state unchanged",
    "withheld_has_id_or_time": "ambiguous: the withheld fact has an internal id or a timestamp",
}
"""The boolean metrics, averaged as shares (0-1) per domain × kind."""


class TaskAudit(BaseModel):
    """One task's metrics; a kind's own metrics are None for the other kinds (a kind that is
    not built in may report facts of its own: they are kept as extra fields).
    """

    model_config = ConfigDict(extra="allow")

    task_id: str
    domain: str
    kind: str
    tool_name: bool
    key_value_dump: bool
    snake_case: bool
    internal_id: bool
    timestamp: bool
    motive: bool
    words: int
    repeated_gold: bool
    labelled: bool | None = None
    refusal_source: str | None = None
    policy_only: bool | None = None
    degenerate: bool | None = None
    states_hidden: bool | None = None
    strategy: str | None = None
    change_of_mind: bool | None = None
    noop_gold: bool | None = None
    withheld_has_id_or_time: bool | None = None


class GroundingRow(BaseModel):
    """Per agent and domain: the share of episodes whose every tool argument was grounded."""

    agent: str
    domain: str
    episodes: int
    grounded: float


class AuditReport(BaseModel):
    """The audit of task sets (and episodes): the table rows plus every task's own metrics."""

    rows: list[dict[str, Any]] = Field(default_factory=list)
    grounding: list[GroundingRow] = Field(default_factory=list)
    tasks: list[TaskAudit] = Field(default_factory=list)

    def frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(self.rows)


def task_text(task: Task) -> str:
    """What the simulated user reads: the scenario's instruction fields and the kind's texts."""
    instructions = task.user_scenario.instructions
    if isinstance(instructions, UserInstructions):
        fields = [
            instructions.reason_for_call,
            instructions.known_info,
            instructions.unknown_info,
            instructions.task_instructions,
        ]
    else:
        fields = [instructions]
    return "\n".join(f for f in [*fields, *kind_of(task).user_texts(task)] if f)


def _reason(task: Task) -> str:
    instructions = task.user_scenario.instructions
    return (
        instructions.reason_for_call if isinstance(instructions, UserInstructions) else instructions
    )


def _tool_patterns(domain: Domain) -> list[re.Pattern[str]]:
    """A tool name as itself or as its words; one-word names ("calculate") are plain words."""
    return [
        re.compile(
            r"\b(?:" + re.escape(name) + "|" + re.escape(name.replace("_", " ")) + r")\b", re.I
        )
        for name in domain.tools
        if "_" in name
    ]


def _repeated(calls: list[ToolCall]) -> bool:
    seen = Counter((c.name, canonical_json(c.arguments)) for c in calls)
    return any(n > 1 for n in seen.values())


def _without_identity(task: Task, text: str) -> str:
    """`text` without the user's own login values (τ²'s airline users quote their user id: it is
    theirs to know, unlike the ids of the records behind it).
    """
    identity = task.variant.details.get("identity")
    for value in identity.values() if isinstance(identity, dict) else ():
        if isinstance(value, str) and value:
            text = text.replace(value, " ")
    return text


def audit_task(task: Task, env: Environment | None = None) -> TaskAudit:
    """The metrics of one task; without `env` (its DB) the replay metrics stay None."""
    text = _without_identity(task, task_text(task))
    domain = env.domain if env is not None else None
    tools = _tool_patterns(domain) if domain else []
    said = text  # the motive is what the user says, not a tool's name ("report card lost")
    for pattern in tools:
        said = pattern.sub(" ", said)
    return TaskAudit(
        task_id=task.id,
        domain=task.domain or (domain.name if domain else "?"),
        kind=task.variant.kind,
        tool_name=any(p.search(text) for p in tools),
        key_value_dump=len(_KEY_VALUE.findall(text)) >= 2,
        snake_case=bool(_SNAKE.search(_EMAIL.sub(" ", text))),
        internal_id=has_internal_id(text),
        timestamp=has_timestamp(text),
        motive=bool(_MOTIVE.search(said)),
        words=len(_reason(task).split()),
        repeated_gold=_repeated(task.gold_calls),
        **kind_of(task).soundness(task, env),
    )


def audit_tasks(
    tasks: Sequence[Task], env: Environment | None = None, *, progress: bool = True
) -> list[TaskAudit]:
    """`audit_task` over a task set (one DB)."""
    return [
        audit_task(task, env)
        for task in tqdm(tasks, desc="auditing", unit="task", disable=not progress)
    ]


def _row(domain: str, kind: str, audits: list[TaskAudit]) -> dict[str, Any]:
    row: dict[str, Any] = {"domain": domain, "kind": kind, "tasks": len(audits)}
    for column in AUDIT_COLUMNS:
        values = [getattr(a, column) for a in audits if getattr(a, column) is not None]
        row[column] = sum(values) / len(values) if values else None
    row["words"] = sum(a.words for a in audits) / len(audits) if audits else None
    # the mix of construction strategies of one kind (an "all" row mixes kinds: no mix)
    strategies = Counter(a.strategy for a in audits if a.strategy) if kind != "all" else Counter()
    total = sum(strategies.values())
    row["strategies"] = (
        {name: round(n / total, 3) for name, n in sorted(strategies.items())} if total else None
    )
    return row


def audit_rows(audits: list[TaskAudit]) -> list[dict[str, Any]]:
    """The audit table's rows: per domain × kind, per domain over all kinds, then overall."""
    rows = []
    domains = sorted({a.domain for a in audits})
    order = {kind: i for i, kind in enumerate(INTENT_KINDS)}
    for domain in domains:
        mine = [a for a in audits if a.domain == domain]
        for kind in sorted({a.kind for a in mine}, key=lambda k: (order.get(k, len(order)), k)):
            rows.append(_row(domain, kind, [a for a in mine if a.kind == kind]))
        rows.append(_row(domain, "all", mine))
    if len(domains) > 1:
        rows.append(_row("all", "all", audits))
    return rows


def audit_frame(audits: Iterable[TaskAudit]) -> pd.DataFrame:
    """Per domain × kind, then per domain "all" and "all" × "all": shares, mean words, counts."""
    import pandas as pd

    return pd.DataFrame(audit_rows(list(audits)))


def grounding_frame(episodes: Iterable[Episode], domains: dict[str, Domain]) -> pd.DataFrame:
    """Share of episodes with every tool argument grounded, per agent and domain.

    Args:
        episodes: Episodes of any agents.
        domains: The domain of each task id; episodes of other tasks are left out.
    """
    import pandas as pd

    counts: dict[tuple[str, str], list[int]] = {}
    for episode in episodes:
        domain = domains.get(episode.task_id)
        if domain is None:
            continue
        tally = counts.setdefault((episode.agent_model, domain.name), [0, 0])
        tally[0] += 1
        tally[1] += bool(episode_grounded(episode, domain))  # the scorer's verdict, if it gave one
    rows = [
        {"agent": agent, "domain": domain, "episodes": n, "grounded": good / n}
        for (agent, domain), (n, good) in sorted(counts.items())
    ]
    return pd.DataFrame(rows, columns=["agent", "domain", "episodes", "grounded"])


def audit_task_sets(
    tasks_paths: Sequence[str | Path],
    *,
    episodes_paths: Sequence[str | Path] = (),
    progress: bool = True,
) -> AuditReport:
    """Audit task files (each with the `db.json` beside it) and, optionally, episode files."""
    audits: list[TaskAudit] = []
    domains: dict[str, Domain] = {}
    for path in tasks_paths:
        if not Path(path).exists():
            raise ConfigError(f"{path}: no such tasks file")
        tasks, env = open_task_set(path)
        audits += audit_tasks(tasks, env, progress=progress)
        domains.update({task.id: env.domain for task in tasks})
    episodes: list[Episode] = []
    for path in episodes_paths:
        if not Path(path).exists():
            raise ConfigError(f"{path}: no such results file")
        episodes += read_episodes(path)
    grounding = grounding_frame(episodes, domains)
    return AuditReport(
        rows=audit_rows(audits),
        grounding=[GroundingRow.model_validate(r) for r in grounding.to_dict(orient="records")],
        tasks=audits,
    )


_SHORT = {
    "tool_name": "tool",
    "key_value_dump": "kv",
    "snake_case": "snake",
    "internal_id": "id",
    "timestamp": "time",
    "motive": "motive",
    "repeated_gold": "rep_gold",
    "labelled": "label",
    "policy_only": "pol_only",
    "degenerate": "degen",
    "states_hidden": "leak",
    "change_of_mind": "mind",
    "noop_gold": "noop",
    "withheld_has_id_or_time": "wh_id",
}


def format_audit(report: AuditReport) -> str:
    """The table (one line per domain × kind, compact columns) and the grounding shares."""
    frame = report.frame()
    if frame.empty:
        return "no tasks"
    table = frame[["domain", "kind", "tasks", "words", *_SHORT]].rename(columns=_SHORT)
    text: str = table.to_string(index=False, float_format=lambda v: f"{v:.2f}", na_rep="-")
    if report.grounding:
        import pandas as pd

        grounding = pd.DataFrame([g.model_dump() for g in report.grounding])
        text += "\n\ngrounded: share of episodes whose every tool argument was heard or allowed\n"
        text += grounding.to_string(index=False, float_format=lambda v: f"{v:.2f}")
    return text
