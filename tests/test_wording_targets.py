"""The wording targets, measured by `t2t audit` on a seeded task set of every built-in domain.

A customer does not say tool names, `key: value` lists, snake_case, internal ids or timestamps,
and says why they call; an ambiguous user's withheld fact is something a person knows. Each
target fails alone, naming the domain and the share.
"""

import pytest

import t2t
from t2t.failures import audit_task_sets
from t2t.generate import GenerateConfig, generate_tasks

DOMAINS = t2t.builtin_domains()
TASKS_PER_KIND = 25

# metric: (most allowed share, or least when `at_least`) — the targets
CEILINGS = {
    "tool_name": 0.02,
    "key_value_dump": 0.02,
    "snake_case": 0.02,
    "internal_id": 0.05,
    "timestamp": 0.01,
    "repeated_gold": 0.10,
    "withheld_has_id_or_time": 0.0,
}
FLOORS = {"motive": 0.80}


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    """The audit's per-domain rows of a seeded set (every kind, TASKS_PER_KIND each)."""
    folder = tmp_path_factory.mktemp("wording")
    paths = []
    for name in DOMAINS:
        kinds = len(t2t.intents.INTENT_KINDS)
        config = GenerateConfig(domain=name, n=TASKS_PER_KIND * kinds, seed=7)
        generate_tasks(config, folder / name, workers=1, progress=False)
        paths.append(folder / name / "tasks.jsonl")
    report = audit_task_sets(paths, progress=False)
    return {row["domain"]: row for row in report.rows if row["kind"] == "all"}


@pytest.mark.parametrize("metric", sorted(CEILINGS))
@pytest.mark.parametrize("name", DOMAINS)
def test_user_text_stays_under_its_ceiling(rows, name, metric):
    share = rows[name][metric]
    assert share is not None and share <= CEILINGS[metric], f"{name} {metric}: {share:.3f}"


@pytest.mark.parametrize("metric", sorted(FLOORS))
@pytest.mark.parametrize("name", DOMAINS)
def test_user_text_reaches_its_floor(rows, name, metric):
    share = rows[name][metric]
    assert share is not None and share >= FLOORS[metric], f"{name} {metric}: {share:.3f}"
