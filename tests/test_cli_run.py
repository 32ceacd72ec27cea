"""`t2t run` and `t2t report` with the oracle probe: one result line per task and trial, resumed
runs add only what is missing, and user mistakes give one line and exit code 2."""

import json
import shutil

import pytest
from conftest import shared_task_set_path

from t2t.cli import main
from t2t.tasks.task_set import open_task_set

LIMIT = 4  # tasks per run: three kinds, in a few seconds


@pytest.fixture(scope="module")
def tasks_file(tmp_path_factory):
    return shared_task_set_path(tmp_path_factory, 16)


@pytest.fixture(scope="module")
def tasks(tasks_file):
    return open_task_set(tasks_file)[0]


def run(capsys, *argv):
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def lines(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def assert_user_error(code, err, *fragments):
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("t2t: error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err


def test_run_writes_one_line_per_task_and_resumes(tmp_path, capsys, tasks_file, tasks):
    out = tmp_path / "results.jsonl"
    tasks = tasks[:LIMIT]
    argv = ("run", "--tasks", tasks_file, "--agent", "t2t/oracle", "--out", out, "-q")
    argv = (*argv, "--limit", str(LIMIT))

    code, stdout, _ = run(capsys, *argv)
    assert code == 0
    assert f"{len(tasks)} episodes run, 0 already there" in stdout
    episodes = lines(out)
    assert sorted(e["task_id"] for e in episodes) == sorted(t.id for t in tasks)
    assert {e["trial"] for e in episodes} == {0}
    assert all(e["reward"]["value"] == 1.0 for e in episodes)  # the oracle solves them all
    first = out.read_bytes()

    code, stdout, _ = run(capsys, *argv)
    assert code == 0
    assert "0 episodes run" in stdout and f"{len(tasks)} already there" in stdout
    assert out.read_bytes() == first

    code, stdout, _ = run(capsys, *argv, "--trials", "2")
    assert code == 0
    assert f"{len(tasks)} episodes run, {len(tasks)} already there" in stdout
    assert out.read_bytes().startswith(first)
    added = lines(out)[len(episodes) :]
    assert sorted(e["task_id"] for e in added) == sorted(t.id for t in tasks)
    assert {e["trial"] for e in added} == {1}


def test_run_a_few_tasks_of_one_kind(tmp_path, capsys, tasks_file, tasks):
    assert sum(t.variant.kind == "ambiguous" for t in tasks) > 3
    out = tmp_path / "ambiguous.jsonl"
    code, _, _ = run(
        capsys,
        *("run", "--tasks", tasks_file, "--agent", "t2t/oracle", "--out", out, "-q"),
        *("--variants", "ambiguous", "--limit", "3"),
    )
    assert code == 0
    episodes = lines(out)
    assert len(episodes) == 3
    assert {e["variant"] for e in episodes} == {"ambiguous"}


def test_report_prints_pass_hat_one_per_variant(tmp_path, capsys, tasks_file):
    out = tmp_path / "results.jsonl"
    argv = ("run", "--tasks", tasks_file, "--agent", "t2t/oracle", "--out", out, "-q")
    assert run(capsys, *argv, "--limit", str(LIMIT))[0] == 0
    kinds = {e["variant"] for e in lines(out)}
    assert len(kinds) > 1

    code, stdout, _ = run(capsys, "report", out)
    assert code == 0
    header, *rows = stdout.splitlines()
    assert "pass^1" in header.split() and "pass^2" not in header
    labels = {row.split()[2] for row in rows}
    assert labels == kinds | {"all"}
    column = header.split().index("pass^1")
    assert all(row.split()[column] == "1.000" for row in rows)


def test_run_without_a_tasks_file_is_a_user_error(tmp_path, capsys):
    missing = tmp_path / "nowhere" / "tasks.jsonl"
    code, _, err = run(
        capsys, "run", "--tasks", missing, "--agent", "t2t/oracle", "--out", tmp_path / "r.jsonl"
    )
    assert_user_error(code, err, str(missing))
    assert not (tmp_path / "r.jsonl").exists()


def test_run_without_an_agent_is_a_user_error(tmp_path, capsys, tasks_file):
    out = tmp_path / "r.jsonl"
    code, _, err = run(capsys, "run", "--tasks", tasks_file, "--out", out, "-q")
    assert_user_error(code, err, "--agent")
    assert not out.exists()


@pytest.mark.parametrize("flag", ["--agent", "--user"])
def test_run_with_an_unknown_probe_is_a_user_error(tmp_path, capsys, tasks_file, flag):
    out = tmp_path / "r.jsonl"
    agent = () if flag == "--agent" else ("--agent", "t2t/oracle")
    code, _, err = run(
        capsys, "run", "--tasks", tasks_file, *agent, flag, "t2t/nosuch", "--out", out, "-q"
    )
    assert_user_error(code, err, "t2t/nosuch", "oracle")
    assert not out.exists() or out.read_text() == ""  # no infra-error episodes


def test_report_on_a_missing_file_is_a_user_error(tmp_path, capsys):
    code, _, err = run(capsys, "report", tmp_path / "missing.jsonl")
    assert_user_error(code, err, "missing.jsonl")


def test_report_on_an_empty_file_is_a_user_error(tmp_path, capsys):
    empty = tmp_path / "empty.jsonl"
    empty.touch()
    code, _, err = run(capsys, "report", empty)
    assert_user_error(code, err, "no episodes")


def test_a_model_nobody_can_call_is_named_before_the_run(capsys, tasks_file, tmp_path):
    """A misspelt provider, or an endpoint nobody answers, is one line and exit 2 with no
    results file; --no-preflight runs anyway (each episode an infrastructure error)."""
    from conftest import free_port

    out = tmp_path / "never.jsonl"
    base = ["run", "--tasks", tasks_file, "--limit", 1, "--out", out, "-q"]
    code, _, err = run(capsys, *base, "--agent", "nosuchprov/model-x")
    assert_user_error(code, err, "no provider for 'nosuchprov/model-x'")
    config = tmp_path / "agent.toml"
    address = f"http://127.0.0.1:{free_port()}/v1"
    config.write_text(f'[agent]\nmodel = "hosted_vllm/x"\napi_base = "{address}"\n')
    code, _, err = run(capsys, *base, "--config", config)
    assert_user_error(code, err, "cannot reach hosted_vllm/x", "--no-preflight")
    assert not out.exists()
    config.write_text(config.read_text() + "max_retries = 0\n")
    assert run(capsys, *base, "--config", config, "--no-preflight")[0] == 0
    assert [row["termination_reason"] for row in lines(out)] == ["infra_error"]  # not a score


def test_input_files_a_user_might_hand_over(capsys, tasks_file, tmp_path, monkeypatch):
    """A byte-order mark is read past, a results line from a newer t2t is refused by its version,
    a bad line reads "line N: problem", and a bad setting is refused before the run's lock."""
    marked = tmp_path / "marked.jsonl"
    marked.write_bytes(b"\xef\xbb\xbf" + tasks_file.read_bytes())
    shutil.copy(tasks_file.parent / "db.json", tmp_path / "db.json")
    out = tmp_path / "run.jsonl"
    args = ["run", "--tasks", marked, "--agent", "t2t/oracle", "--limit", 1, "-q"]
    assert run(capsys, *args, "--out", out)[0] == 0
    first = out.read_text()
    out.write_bytes(b"\xef\xbb\xbf" + first.encode())  # results saved by an editor that marks
    assert run(capsys, "report", out)[0] == 0
    newer = json.loads(first) | {"schema_version": 99}
    out.write_text(first + json.dumps(newer) + "\n")
    code, _, err = run(capsys, "report", out)
    assert_user_error(code, err, "line 2: schema_version: ", "newer t2t", "upgrade t2t")
    out.write_text(first + "{not json\n" + first)
    code, _, err = run(capsys, "report", out)
    assert_user_error(code, err, "run.jsonl: line 2: Invalid JSON")
    assert ": :" not in err
    monkeypatch.setenv("T2T_SIM_LATENCY_S", "soon")
    late = tmp_path / "late.jsonl"
    code, _, err = run(capsys, *args, "--out", late)
    assert_user_error(code, err, "T2T_SIM_LATENCY_S must be a number of seconds, not 'soon'")
    assert not late.exists() and not (tmp_path / "late.jsonl.lock").exists()
