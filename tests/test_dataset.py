"""`t2t export-dataset`: a folder `datasets.load_dataset` reads, split by task family, with a
card that counts what it holds; every task comes back whole."""

import json

import pytest
from conftest import shared_task_set_path

from t2t.cli import main
from t2t.core.files import read_tasks
from t2t.core.schema import Task
from t2t.finetune.sft import task_family
from t2t.generate import PIPELINE_VERSION

datasets = pytest.importorskip("datasets", reason="the train extra: pip install -e '.[train]'")


@pytest.fixture(scope="module")
def tasks_file(tmp_path_factory):
    return shared_task_set_path(tmp_path_factory, 16)


def test_a_dataset_round_trips_through_the_datasets_library(tasks_file, tmp_path, capsys):
    out = tmp_path / "published"
    assert main(["export-dataset", str(tasks_file), "--out", str(out), "--quiet"]) == 0
    loaded = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "hf-cache"))  # no stale copy
    tasks = {task.id: task for task in read_tasks(tasks_file)}
    assert set(loaded) == {"train", "test"}
    assert sum(len(loaded[s]) for s in loaded) == len(tasks)
    families = {side: {row["family"] for row in loaded[side]} for side in loaded}
    assert families["train"] and families["test"] and not families["train"] & families["test"]
    for side in loaded:
        for row in loaded[side]:
            task = Task.model_validate_json(row["task"])
            assert task == tasks[row["id"]]  # the whole task, not a summary of it
            assert row["kind"] == task.variant.kind and row["family"] == task_family(task)
            assert json.loads(row["actions"]) == [
                a.model_dump(exclude_none=True) for a in task.evaluation_criteria.actions or []
            ]
    replayed = tmp_path / "replayed.jsonl"  # the dataset alone is enough to run its tasks
    test_tasks = tmp_path / "test_tasks.jsonl"
    test_tasks.write_text("".join(row["task"] + "\n" for row in loaded["test"]))
    (db,) = {row["db"] for side in loaded for row in loaded[side]}
    run = ["run", "--tasks", str(test_tasks), "--db", str(out / db), "--agent", "t2t/oracle"]
    assert main([*run, "--out", str(replayed), "--quiet"]) == 0
    assert all(json.loads(line)["reward"]["value"] == 1 for line in replayed.open())
    card = (out / "README.md").read_text()
    assert card.startswith("---\nlicense: mit\n") and "config_name: default" in card
    for kind in ("base", "ambiguous", "changing", "infeasible"):
        total = sum(row["kind"] == kind for side in loaded for row in loaded[side])
        assert total and kind in card
    assert "## Audit (`t2t audit`)" in card and "| retail | all |" in card
    generation = card.split("## How it was generated")[1].split("##")[0]
    assert '"seed": 0' in generation and f"| {PIPELINE_VERSION} |" in generation
    code = main(["export-dataset", str(tasks_file), "--out", str(out), "--quiet"])
    assert code == 2 and "exists; pass --force" in capsys.readouterr().err
