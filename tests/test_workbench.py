"""Notebook helpers: a results folder, task sets made once, per-kind picks, resumed benchmarks."""

import shutil

import pytest
from conftest import shared_task_set_path

from t2t import workbench
from t2t.benchmark.results import read_episodes
from t2t.core.schema import Task
from t2t.generate import GenerateConfig

N = 16  # the shared session task set: retail, seed 0, the config `task_set` asks for


@pytest.fixture(scope="module")
def shared_folder(tmp_path_factory):
    return shared_task_set_path(tmp_path_factory, N).parent


@pytest.fixture
def fake_generate(monkeypatch, shared_folder):
    """`generate_tasks` that copies the shared set instead of exploring, and records its calls."""
    calls = []

    def generate(config, out, **kwargs):
        calls.append((config, out))
        shutil.copytree(shared_folder, out, dirs_exist_ok=True)

    monkeypatch.setattr(workbench, "generate_tasks", generate)
    return calls


def test_results_dir_is_created_and_t2t_results_overrides(tmp_path, monkeypatch):
    monkeypatch.delenv("T2T_RESULTS", raising=False)
    assert workbench.results_dir(tmp_path / "default") == tmp_path / "default"
    assert (tmp_path / "default").is_dir()
    monkeypatch.setenv("T2T_RESULTS", str(tmp_path / "from" / "env"))
    assert workbench.results_dir(tmp_path / "default") == tmp_path / "from" / "env"
    assert (tmp_path / "from" / "env").is_dir()


def test_task_set_generates_once_then_reuses_the_folder(tmp_path, fake_generate):
    tasks, env, folder = workbench.task_set("retail", n=N, seed=0, results=tmp_path)
    assert folder == tmp_path / "tasks" / f"retail-n{N}-s0"
    assert [(c.domain, c.n, c.seed, c.db_seed) for c, _ in fake_generate] == [("retail", N, 0, 0)]
    assert len(tasks) == N and env.domain.name == "retail"
    modified = (folder / "tasks.jsonl").stat().st_mtime_ns

    again, _, _ = workbench.task_set("retail", n=N, seed=0, results=tmp_path)
    assert len(fake_generate) == 1  # nothing generated the second time
    assert (folder / "tasks.jsonl").stat().st_mtime_ns == modified
    assert [t.id for t in again] == [t.id for t in tasks]


def test_task_set_finishes_an_interrupted_or_foreign_run(tmp_path, fake_generate, shared_folder):
    folder = tmp_path / "tasks" / f"retail-n{N}-s0"
    shutil.copytree(shared_folder, folder)
    (folder / "yield.json").unlink()  # killed before the end: no yield report yet
    workbench.task_set("retail", n=N, seed=0, results=tmp_path)
    assert len(fake_generate) == 1
    other = GenerateConfig(domain="retail", n=N, seed=1, db_seed=1).config_hash()
    text = (folder / "yield.json").read_text(encoding="utf-8")
    config_hash = GenerateConfig(domain="retail", n=N).config_hash()
    (folder / "yield.json").write_text(text.replace(config_hash, other), encoding="utf-8")
    workbench.task_set("retail", n=N, seed=0, results=tmp_path)
    assert len(fake_generate) == 2  # a report of other settings is not this run's


def _task(task_id, kind):
    scenario = {"instructions": "-"}
    return Task.model_validate(
        {"id": task_id, "user_scenario": scenario, "variant": {"kind": kind}}
    )


def test_per_kind_takes_the_first_k_of_each_kind_in_kind_order():
    kinds = ["infeasible", "base", "changing", "base", "ambiguous", "base", "infeasible"]
    tasks = [_task(f"t{i}", kind) for i, kind in enumerate(kinds)]
    picked = workbench.per_kind(tasks, 2)
    assert [(t.id, t.variant.kind) for t in picked] == [
        ("t1", "base"),
        ("t3", "base"),
        ("t4", "ambiguous"),
        ("t2", "changing"),
        ("t0", "infeasible"),
        ("t6", "infeasible"),
    ]
    assert workbench.per_kind(tasks, 0) == []


def test_benchmark_resumes_and_returns_only_its_own_episodes(tmp_path, fake_generate):
    tasks, env, _ = workbench.task_set("retail", n=N, results=tmp_path)
    chosen = workbench.per_kind(tasks, 1)
    out = tmp_path / "runs" / "retail.jsonl"
    first = workbench.benchmark(chosen, env, out, agents=["t2t/oracle"], trials=2, progress=False)
    assert len(first) == 2 * len(chosen) == len(read_episodes(out))
    assert all(e.reward.value == 1.0 for e in first)
    written = out.stat().st_mtime_ns

    again = workbench.benchmark(chosen, env, out, agents=["t2t/oracle"], trials=2, progress=False)
    assert out.stat().st_mtime_ns == written  # nothing ran again
    assert sorted(e.model_dump_json() for e in again) == sorted(e.model_dump_json() for e in first)

    fewer = workbench.benchmark(
        chosen[:1], env, out, agents=["t2t/oracle"], trials=1, progress=False
    )
    assert [(e.task_id, e.trial) for e in fewer] == [(chosen[0].id, 0)]
    assert out.stat().st_mtime_ns == written


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, []),
        ("", []),
        ("  ", []),
        ("openai/gpt-4.1-mini", ["openai/gpt-4.1-mini"]),
        (
            " openai/gpt-4.1-mini , ,anthropic/claude-3-5-haiku ,",
            [
                "openai/gpt-4.1-mini",
                "anthropic/claude-3-5-haiku",
            ],
        ),
    ],
)
def test_configured_models_reads_t2t_models(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("T2T_MODELS", raising=False)
    else:
        monkeypatch.setenv("T2T_MODELS", value)
    assert workbench.configured_models() == expected


def test_a_cached_set_an_older_t2t_made_is_replaced_and_an_interrupted_one_resumed(
    tmp_path, shared_folder, monkeypatch
):
    """The folder is the workbench's own cache: after an upgrade it is remade, not refused."""
    forced = []
    monkeypatch.setattr(
        workbench,
        "generate_tasks",
        lambda config, out, **kwargs: forced.append(kwargs.get("force", False)),
    )
    folder = tmp_path / "tasks" / f"retail-n{N}-s0"
    shutil.copytree(shared_folder, folder)
    (folder / "yield.json").unlink()
    workbench.task_set("retail", n=N, seed=0, results=tmp_path)  # same settings: resumed
    manifest = (folder / "manifest.json").read_text(encoding="utf-8")
    mine = GenerateConfig(domain="retail", n=N).config_hash()
    (folder / "manifest.json").write_text(manifest.replace(mine, "0" * 16), encoding="utf-8")
    workbench.task_set("retail", n=N, seed=0, results=tmp_path)  # made by other code: replaced
    assert forced == [False, True]
