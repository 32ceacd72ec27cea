"""Exploration: walks through a domain that start from a real user and keep successful calls.

Two explorers produce the same `Trajectory`: the offline graph explorer (`explore_offline`, a
seeded walk along the tool dependency graph) and the LLM explorer (`explore_with_llm`, the
paper's recipe through litellm). `walk_from_trajectory` turns either into a `Walk`, the form the
converter and the intent variants work from.
"""

from t2t.explore.facts import Fact, FactBook
from t2t.explore.from_trajectory import walk_from_trajectory
from t2t.explore.graph import ToolGraph, build_tool_graph
from t2t.explore.llm_explorer import (
    exploration_prompt,
    explore_with_llm,
    explore_with_llm_async,
    sample_tools,
)
from t2t.explore.values import ValuePool, random_call
from t2t.explore.walk import Candidate, Walk, WriteStep, explore_offline

__all__ = [
    "Candidate",
    "Fact",
    "FactBook",
    "ToolGraph",
    "ValuePool",
    "Walk",
    "WriteStep",
    "build_tool_graph",
    "explore_offline",
    "explore_with_llm",
    "explore_with_llm_async",
    "exploration_prompt",
    "random_call",
    "sample_tools",
    "walk_from_trajectory",
]
