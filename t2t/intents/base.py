"""The base kind: the task as converted; valid when its gold replays cleanly and writes."""

from __future__ import annotations

import random
from typing import Any

from t2t.core.environment import Environment
from t2t.core.schema import Task
from t2t.explore.walk import Walk
from t2t.intents.checks import clean_replay
from t2t.intents.kind import Details, KindHooks, OrEmptyList
from t2t.intents.slots import Rejected

__all__ = ["Base", "BaseDetails"]


class BaseDetails(Details):
    """The structured request the converter records (absent from imported τ² tasks)."""

    user_id: Any = None
    identity: Any = None
    requests: OrEmptyList[Any] = []
    ask: Any = None


class Base(KindHooks[BaseDetails]):
    name = "base"
    probe = None
    strategies = {"as-explored": 1.0}
    details_model = BaseDetails

    def build(self, walk: Walk, base: Task, rng: random.Random) -> Task:
        return base

    def verify(self, task: Task, env: Environment) -> None:
        start = env
        final = clean_replay(env, task, task.gold_calls, "gold")
        if final.state_hash() == start.state_hash():
            raise Rejected("gold changes nothing")
