"""SFT export: formats, selection, dedupe, the task-family split and its errors (no torch here)."""

import json

import pytest
from conftest import played, shared_task_set_path
from hypothesis import given
from hypothesis import strategies as st

from t2t.benchmark.agent import agent_system_prompt
from t2t.benchmark.config import RunConfig
from t2t.benchmark.results import append_episodes
from t2t.benchmark.runner import run_rollouts
from t2t.cli import main
from t2t.core.errors import ConfigError, DataError
from t2t.core.schema import Reward, Task, UserScenario, Variant
from t2t.finetune.sft import (
    OpenAIExample,
    choose_episodes,
    export_sft,
    read_examples,
    split_tasks,
    successful_episodes,
    task_family,
)
from t2t.tasks.task_set import open_task_set


@pytest.fixture(scope="module")
def played_set(tmp_path_factory):
    """16 retail tasks, two oracle trials (identical) and one eager trial each."""
    tasks_path = shared_task_set_path(tmp_path_factory, 16)
    tasks, env = open_task_set(tasks_path)
    results = tmp_path_factory.mktemp("sft") / "runs.jsonl"
    for agent, trials in (("t2t/oracle", 2), ("t2t/eager", 1)):
        run_rollouts(tasks, env, RunConfig(agent=agent, trials=trials), results, progress=False)
    return tasks_path, tasks, env, results


def _export(played_set, out, **options):
    tasks_path, _, _, results = played_set
    return export_sft([results], [tasks_path], out, **options)


def test_openai_and_hf_files_hold_the_same_conversations(played_set, tmp_path):
    _, tasks, env, _ = played_set
    exported = _export(played_set, tmp_path)
    system = agent_system_prompt(env.domain)
    tool_names = {tool["function"]["name"] for tool in env.domain.tool_schemas()}
    for side in ("train", "test"):
        openai_rows = read_examples(tmp_path / "openai" / f"{side}.jsonl")
        hf_rows = read_examples(tmp_path / "hf" / f"{side}.jsonl")
        assert len(openai_rows) == len(hf_rows) == exported.examples[side]
        for openai_row, hf_row in zip(openai_rows, hf_rows, strict=True):
            OpenAIExample.model_validate(openai_row)  # the shape OpenAI's API accepts
            assert set(openai_row) == {"messages", "tools", "parallel_tool_calls"}
            assert openai_row["messages"][0] == {"role": "system", "content": system}
            assert hf_row["messages"][-1]["role"] == "assistant"
            assert {t["function"]["name"] for t in hf_row["tools"]} == tool_names
            for a, b in zip(openai_row["messages"], hf_row["messages"], strict=True):
                assert a["role"] == b["role"] and a.get("content") == b.get("content")
                for call_a, call_b in zip(
                    a.get("tool_calls") or [], b.get("tool_calls") or [], strict=True
                ):
                    assert isinstance(call_a["function"]["arguments"], str)
                    assert (
                        json.loads(call_a["function"]["arguments"])
                        == (call_b["function"]["arguments"])
                    )
                if b["role"] == "tool":
                    assert b["name"] in tool_names
    assert exported.examples["train"] > 0 and exported.examples["test"] > 0


def test_only_successful_episodes_once_each(played_set, tmp_path):
    _, tasks, _, results = played_set
    exported = _export(played_set, tmp_path)
    from t2t.benchmark.results import read_episodes

    episodes = read_episodes(results)
    winners = [e for e in episodes if e.reward.value == 1.0]
    assert exported.successful == len(winners)
    rows = read_examples(tmp_path / "hf" / "train.jsonl")
    rows += read_examples(tmp_path / "hf" / "test.jsonl")
    # the oracle's two trials are one conversation; eager's successes on base tasks repeat it
    assert len(rows) == len({row["meta"]["task_id"] for row in rows}) == len(tasks)
    assert exported.duplicates == len(winners) - len(rows)
    failed = {e.task_id for e in episodes if e.agent_model == "t2t/eager" and e.reward.value < 1}
    eager_rows = [row for row in rows if row["meta"]["agent_model"] == "t2t/eager"]
    assert not {row["meta"]["task_id"] for row in eager_rows} & failed


def test_agents_filter_and_per_task_cap(played_set):
    _, _, _, results = played_set
    from t2t.benchmark.results import read_episodes

    episodes = read_episodes(results)
    eager = successful_episodes(episodes, agents=["t2t/eager"])
    assert eager and {e.agent_model for e in eager} == {"t2t/eager"}
    assert all(e.reward.value == 1.0 for e in eager)
    kept = choose_episodes(successful_episodes(episodes), per_task=1)
    assert len(kept) == len({e.task_id for e in kept})
    with pytest.raises(ConfigError, match="per-task"):
        choose_episodes(episodes, per_task=0)


def test_infra_errors_and_failures_are_never_exported(played_set):
    _, _, _, results = played_set
    from t2t.benchmark.results import read_episodes

    episode = read_episodes(results)[0]
    infra = episode.model_copy(update={"termination_reason": "infra_error", "error": "x"})
    failed = episode.model_copy(update={"reward": Reward(value=0.0)})
    assert successful_episodes([infra, failed]) == []
    assert successful_episodes([episode]) == [episode]


def test_no_task_family_is_on_both_sides(played_set, tmp_path):
    _, tasks, _, _ = played_set
    _export(played_set, tmp_path, test_fraction=0.3, seed=3)
    split = json.loads((tmp_path / "split.json").read_text())
    family = {task.id: task_family(task) for task in tasks}
    train = {family[t] for t in split["train"]}
    test = {family[t] for t in split["test"]}
    assert train and test and not train & test
    for side, families in (("train", train), ("test", test)):
        for row in read_examples(tmp_path / "hf" / f"{side}.jsonl"):
            assert family[row["meta"]["task_id"]] in families
    assert any(task.variant.parent_id for task in tasks)  # variants exist, so this says something


def test_a_saved_split_is_kept(played_set, tmp_path):
    first = tmp_path / "first"
    _export(played_set, first, test_fraction=0.5, seed=1)
    second = _export(played_set, tmp_path / "second", split=first / "split.json", test_fraction=0)
    assert json.loads((first / "split.json").read_text()) == json.loads(
        (tmp_path / "second" / "split.json").read_text()
    )
    assert second.held_out_tasks > 0


def test_export_refuses_to_overwrite_and_names_bad_inputs(played_set, tmp_path):
    tasks_path, _, _, results = played_set
    _export(played_set, tmp_path)
    with pytest.raises(ConfigError, match="--force"):
        _export(played_set, tmp_path)
    bad_split = tmp_path / "bad.json"
    bad_split.write_text('{"train": 1}')
    with pytest.raises(DataError, match="not a split file"):
        export_sft([results], [tasks_path], tmp_path / "x", split=bad_split)
    with pytest.raises(ConfigError, match="no such results file"):
        export_sft([tmp_path / "missing.jsonl"], [tasks_path], tmp_path / "y")
    with pytest.raises(ConfigError, match="test-fraction"):
        export_sft([results], [tasks_path], tmp_path / "z", test_fraction=1.0)
    with pytest.raises(ConfigError, match="per-task"):
        export_sft([results], [tasks_path], tmp_path / "w", per_task=0)


def test_results_of_another_task_set_are_refused(played_set, tmp_path):
    tasks_path, tasks, _, results = played_set
    other = tmp_path / "other" / "tasks.jsonl"
    other.parent.mkdir()
    (other.parent / "db.json").write_bytes((tasks_path.parent / "db.json").read_bytes())
    other.write_text(tasks[0].model_dump_json() + "\n")
    with pytest.raises(DataError, match="in no --tasks file"):
        export_sft([results], [other], tmp_path / "out")


def test_cli_export_prints_stats_and_errors_in_one_line(played_set, tmp_path, capsys):
    tasks_path, _, _, results = played_set
    out = tmp_path / "cli"
    argv = ["export-sft", str(results), "--tasks", str(tasks_path), "--out", str(out)]
    assert main([*argv, "--agents", "t2t/oracle", "--per-task", "1"]) == 0
    printed = capsys.readouterr().out
    assert "training and" in printed and "tokens (chars/4)" in printed
    stats = json.loads((out / "stats.json").read_text())
    assert sum(stats["examples"].values()) == len(read_examples(out / "hf" / "train.jsonl")) + len(
        read_examples(out / "hf" / "test.jsonl")
    )
    assert main(argv) == 2
    assert "--force" in capsys.readouterr().err


def test_ungrounded_successes_are_dropped_unless_kept(played_set, tmp_path, capsys):
    """A reward-1 episode whose agent used values nobody gave it is not training data."""
    tasks_path, tasks, env, results = played_set
    task = next(t for t in tasks if t.variant.kind == "base" and t.gold_calls)
    lucky = played(task, env, task.gold_calls).model_copy(update={"agent_model": "lucky"})
    assert lucky.reward.value == 1.0 and lucky.reward.details["grounded"] is False
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_bytes(results.read_bytes())
    append_episodes(mixed, [lucky])

    dropped = export_sft([mixed], [tasks_path], tmp_path / "dropped")
    assert dropped.ungrounded == 1 and not dropped.kept_ungrounded
    kept = export_sft([mixed], [tasks_path], tmp_path / "kept", keep_ungrounded=True)
    assert kept.ungrounded == 1 and kept.kept_ungrounded
    assert sum(kept.examples.values()) == sum(dropped.examples.values()) + 1

    def agents(out):
        rows = [
            r for side in ("train", "test") for r in read_examples(out / "hf" / f"{side}.jsonl")
        ]
        return {r["meta"]["agent_model"] for r in rows}

    assert "lucky" not in agents(tmp_path / "dropped")
    assert "lucky" in agents(tmp_path / "kept")

    argv = ["export-sft", str(mixed), "--tasks", str(tasks_path)]
    assert main([*argv, "--out", str(tmp_path / "cli")]) == 0
    assert "1 ungrounded dropped" in capsys.readouterr().out
    assert main([*argv, "--out", str(tmp_path / "cli2"), "--keep-ungrounded"]) == 0
    assert "1 ungrounded kept" in capsys.readouterr().out
    assert "lucky" in agents(tmp_path / "cli2")


def _task(task_id: str, parent: str | None = None) -> Task:
    kind = "ambiguous" if parent else "base"
    return Task(
        id=task_id,
        user_scenario=UserScenario(instructions="x"),
        variant=Variant(kind=kind, parent_id=parent),
    )


@given(
    families=st.integers(min_value=1, max_value=30),
    variants=st.lists(st.integers(min_value=0, max_value=3), min_size=30, max_size=30),
    fraction=st.floats(min_value=0.0, max_value=0.9),
    seed=st.integers(min_value=0, max_value=5),
)
def test_split_property(families, variants, fraction, seed):
    tasks = []
    for f in range(families):
        tasks.append(_task(f"t{f}"))
        tasks += [_task(f"t{f}-v{v}", parent=f"t{f}") for v in range(variants[f])]
    split = split_tasks(tasks, test_fraction=fraction, seed=seed)
    assert sorted(split.train + split.test) == sorted(t.id for t in tasks)
    by_family: dict[str, set[str]] = {}
    for task in tasks:
        by_family.setdefault(task_family(task), set()).add(split.side(task.id))
    assert all(len(sides) == 1 for sides in by_family.values())
    held = sum(sides == {"test"} for sides in by_family.values())
    if fraction > 0 and families >= 2:
        assert 1 <= held <= families - 1
    if fraction == 0:
        assert held == 0
    assert split == split_tasks(list(reversed(tasks)), test_fraction=fraction, seed=seed)
