"""Intent variants: each kind builds a harder task from a base one and verifies it by replay.

A kind implements `IntentKind` (`t2t.intents.kind`): `build(walk, base, rng)` (raises `Rejected`
with the reason when it cannot), `verify(task, env)` (replay + policy rules, from the task alone,
so a hand-edited or imported task is checked the same way), its typed details, and the hooks the
later stages call: the scripted user's part, the flawed probe it defeats, its reward components
and failure types. Callers look kinds up in `INTENT_KINDS`, never branch on names.
"""

from __future__ import annotations

from pydantic import ValidationError

from t2t.core.environment import Environment
from t2t.core.schema import Task
from t2t.intents.ambiguous import Ambiguous
from t2t.intents.base import Base
from t2t.intents.changing import Changing
from t2t.intents.checks import VariantCheck, clean_replay
from t2t.intents.infeasible import Infeasible
from t2t.intents.kind import (
    INTENT_KINDS,
    Details,
    FailureType,
    IntentKind,
    KindHooks,
    ScoreContext,
    UserScript,
    details_of,
    kind_of,
    register_kind,
    unregister_kind,
)
from t2t.intents.slots import Rejected, derive_task
from t2t.intents.text import mentions

__all__ = [  # what a kind author needs, then what callers look kinds up with
    "INTENT_KINDS",
    "Details",
    "FailureType",
    "IntentKind",
    "KindHooks",
    "Rejected",
    "ScoreContext",
    "UserScript",
    "VariantCheck",
    "check_variant",
    "clean_replay",
    "derive_task",
    "details_of",
    "kind_of",
    "mentions",
    "register_kind",
    "unregister_kind",
]

for _kind in (Base(), Ambiguous(), Changing(), Infeasible()):
    register_kind(_kind)


def check_variant(task: Task, env: Environment) -> VariantCheck:
    """Verify any task by its variant kind; the reason is recorded when it is rejected."""
    kind = INTENT_KINDS.get(task.variant.kind)
    if kind is None:  # a task edited in memory, or of a kind unregistered since it loaded
        return VariantCheck(
            task_id=task.id, kind=task.variant.kind, ok=False, reason="unknown kind"
        )
    try:
        kind.verify(task, env)
    except Rejected as exc:
        return VariantCheck(task_id=task.id, kind=kind.name, ok=False, reason=str(exc))
    except (KeyError, TypeError, IndexError, ValidationError) as exc:
        reason = f"malformed variant details: {exc!r}"
        return VariantCheck(task_id=task.id, kind=kind.name, ok=False, reason=reason)
    return VariantCheck(task_id=task.id, kind=kind.name, ok=True)
