"""The command line: results as specified; user mistakes give one line and exit code 2."""

import json
import os

import pytest

from t2t.cli import main
from t2t.tasks.tau2 import reference_data_dir

REFERENCE = reference_data_dir("retail")
needs_reference = pytest.mark.skipif(REFERENCE is None, reason="τ²-bench reference missing")


def run(capsys, *argv):
    code = main([*argv, "--quiet"] if argv[0] not in ("domains",) else list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_user_error(code, err, *fragments):
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("t2t: error: ")  # one line, no traceback
    for fragment in fragments:
        assert fragment in err


@pytest.fixture
def small_tasks(tmp_path):
    """Two tasks on τ²'s DB: one clean, one whose gold call fails."""
    tasks = [
        {
            "id": "ok",
            "user_scenario": {
                "instructions": {
                    "domain": "retail",
                    "reason_for_call": "cancel",
                    "task_instructions": "-",
                }
            },
            "evaluation_criteria": {
                "actions": [
                    {
                        "action_id": "a",
                        "name": "get_order_details",
                        "arguments": {"order_id": "#W2611340"},
                    },
                ]
            },
        },
        {
            "id": "broken",
            "user_scenario": {
                "instructions": {
                    "domain": "retail",
                    "reason_for_call": "x",
                    "task_instructions": "-",
                }
            },
            "evaluation_criteria": {
                "actions": [
                    {
                        "action_id": "b",
                        "name": "cancel_pending_order",
                        "arguments": {"order_id": "#W0000000", "reason": "no longer needed"},
                    },
                    {"action_id": "c", "name": "no_such_tool", "arguments": {}},
                ]
            },
        },
    ]
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps(tasks))
    return path


@needs_reference
def test_tau2_replay_writes_one_line_per_task(capsys, tmp_path, small_tasks):
    out = tmp_path / "out.jsonl"
    code, stdout, _ = run(
        capsys,
        "tau2",
        "replay",
        "--domain",
        "retail",
        "--db",
        str(REFERENCE / "db.json"),
        "--tasks",
        str(small_tasks),
        "--out",
        str(out),
    )
    assert code == 0 and "2 tasks, 1 with failed gold calls" in stdout
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [set(line) for line in lines] == [{"task_id", "final_db_sha256", "errors"}] * 2
    assert lines[0]["errors"] == []
    assert lines[1]["errors"] == [
        {"index": 0, "name": "cancel_pending_order", "error": "Order not found"},
        {"index": 1, "name": "no_such_tool", "error": "Tool 'no_such_tool' not found."},
    ]
    # a read-only task and a task whose calls all fail leave the DB as loaded
    from t2t.tasks.tau2 import db_sha256

    initial = db_sha256(json.loads((REFERENCE / "db.json").read_text()))
    assert lines[0]["final_db_sha256"] == lines[1]["final_db_sha256"] == initial


@needs_reference
def test_outputs_are_never_overwritten_without_force(capsys, tmp_path, small_tasks):
    out = tmp_path / "out.jsonl"
    out.write_text("precious\n")
    args = [
        "tau2",
        "replay",
        "--domain",
        "retail",
        "--db",
        str(REFERENCE / "db.json"),
        "--tasks",
        str(small_tasks),
        "--out",
        str(out),
    ]
    code, _, err = run(capsys, *args)
    assert_user_error(code, err, str(out), "--force")
    assert out.read_text() == "precious\n"
    code, _, _ = run(capsys, *args, "--force")
    assert code == 0 and out.read_text().count("\n") == 2


def test_verify_reports_broken_tasks(capsys, tmp_path, small_tasks):
    if REFERENCE is None:
        pytest.skip("τ²-bench reference missing")
    out = tmp_path / "verdicts.jsonl"
    code, stdout, _ = run(
        capsys,
        "verify",
        "--domain",
        "retail",
        "--db",
        str(REFERENCE / "db.json"),
        "--tasks",
        str(small_tasks),
        "--out",
        str(out),
    )
    assert code == 1
    assert "task broken: call 0 cancel_pending_order: Order not found" in stdout
    assert "1/2 tasks replay cleanly" in stdout
    verdicts = [json.loads(line) for line in out.read_text().splitlines()]
    assert [v["ok"] for v in verdicts] == [True, False]


def test_import_export_round_trip(capsys, tmp_path, small_tasks):
    jsonl = tmp_path / "tasks.jsonl"
    back = tmp_path / "back.json"
    assert run(capsys, "tau2", "import", "--tasks", str(small_tasks), "--out", str(jsonl))[0] == 0
    assert run(capsys, "tau2", "export", "--tasks", str(jsonl), "--out", str(back))[0] == 0
    exported = json.loads(back.read_text())
    assert [t["id"] for t in exported] == ["ok", "broken"]
    assert exported[1]["evaluation_criteria"]["actions"][1]["name"] == "no_such_tool"


def test_fields_t2t_does_not_model_are_kept_at_every_level(capsys, tmp_path, small_tasks):
    """τ² ignores fields it does not know, and newer τ² task files have some (a task's `issues`
    list); import keeps them and export writes them back, while t2t's own files stay strict."""
    original = json.loads(small_tasks.read_text())
    task = original[0]
    task["issues"] = [{"kind": "ambiguous gold", "note": "two orders fit"}]
    task["user_scenario"]["x_pipeline"] = {"round": 2}
    task["user_scenario"]["instructions"]["x_tone"] = "curt"
    task["evaluation_criteria"]["x_weights"] = [0.5, 0.5]
    task["evaluation_criteria"]["actions"][0]["x_checked"] = True
    task["evaluation_criteria"]["actions"][0]["requestor"] = "assistant"
    richer = tmp_path / "richer.json"
    richer.write_text(json.dumps(original))
    jsonl, back = tmp_path / "tasks.jsonl", tmp_path / "back.json"
    assert run(capsys, "tau2", "import", "--tasks", str(richer), "--out", str(jsonl))[0] == 0
    assert run(capsys, "tau2", "export", "--tasks", str(jsonl), "--out", str(back))[0] == 0
    assert json.loads(back.read_text())[0] == task
    if REFERENCE is not None:  # replay and verify read it too
        db = ["--domain", "retail", "--db", str(REFERENCE / "db.json"), "--tasks", str(richer)]
        assert run(capsys, "tau2", "replay", *db, "--out", str(tmp_path / "replay.jsonl"))[0] == 0
        assert run(capsys, "verify", *db, "--out", str(tmp_path / "verify.jsonl"))[0] in (0, 1)
    own = json.loads(jsonl.read_text().splitlines()[1])
    jsonl.write_text(json.dumps({**own, "issues": []}) + "\n")
    code, _, err = run(
        capsys, "tau2", "export", "--tasks", str(jsonl), "--out", str(back), "--force"
    )
    assert_user_error(code, err, "tasks.jsonl", "line 1: issues")


def test_db_generate_is_seeded_and_checked(capsys, tmp_path):
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    for out in (first, second):
        args = ["db", "generate", "--domain", "retail", "--scale", "small", "--seed", "3"]
        assert run(capsys, *args, "--out", str(out))[0] == 0
    assert first.read_bytes() == second.read_bytes()
    code, stdout, _ = run(capsys, "db", "check", "--domain", "retail", "--db", str(first))
    assert code == 0 and "0 consistency problems" in stdout
    db = json.loads(first.read_text())
    order = next(iter(db["orders"].values()))
    order["user_id"] = "nobody_1"
    first.write_text(json.dumps(db))
    code, stdout, _ = run(capsys, "db", "check", "--domain", "retail", "--db", str(first))
    assert code == 1 and "nobody_1" in stdout


def test_unknown_domain(capsys, tmp_path):
    code, _, err = run(capsys, "db", "check", "--domain", "shoes")
    assert_user_error(code, err, "unknown domain 'shoes'", "retail")


def test_missing_db_file(capsys, tmp_path, small_tasks):
    code, _, err = run(
        capsys,
        "verify",
        "--domain",
        "retail",
        "--db",
        str(tmp_path / "nope.json"),
        "--tasks",
        str(small_tasks),
    )
    assert_user_error(code, err, "nope.json", "database not found")


def test_malformed_db_json(capsys, tmp_path, small_tasks):
    bad = tmp_path / "db.json"
    bad.write_text('{"products": {}, "users": ')
    code, _, err = run(
        capsys, "verify", "--domain", "retail", "--db", str(bad), "--tasks", str(small_tasks)
    )
    assert_user_error(code, err, "db.json", "not valid JSON", "line 1")


def test_db_with_a_bad_field_names_it(capsys, tmp_path, small_tasks):
    db = json.loads((REFERENCE / "db.json").read_text()) if REFERENCE else None
    if db is None:
        pytest.skip("τ²-bench reference missing")
    db["orders"]["#W2611340"]["status"] = "teleported"
    bad = tmp_path / "db.json"
    bad.write_text(json.dumps(db))
    code, _, err = run(
        capsys, "verify", "--domain", "retail", "--db", str(bad), "--tasks", str(small_tasks)
    )
    assert_user_error(code, err, "db.json", "orders.#W2611340.status")


def test_malformed_tasks_name_the_task_and_field(capsys, tmp_path):
    bad = tmp_path / "tasks.json"
    bad.write_text(
        json.dumps(
            [{"id": "1", "user_scenario": {"instructions": {"domain": "retail"}}, "colour": 1}]
        )
    )
    code, _, err = run(
        capsys, "tau2", "import", "--tasks", str(bad), "--out", str(tmp_path / "x.jsonl")
    )
    assert_user_error(code, err, "tasks.json", "[0].")
    assert not (tmp_path / "x.jsonl").exists()
    lines = tmp_path / "tasks.jsonl"
    lines.write_text('{"id": "1"}\n')
    code, _, err = run(
        capsys, "tau2", "export", "--tasks", str(lines), "--out", str(tmp_path / "y.json")
    )
    assert_user_error(code, err, "tasks.jsonl", "line 1: user_scenario")


def test_domains_lists_retail(capsys):
    code, out, _ = run(capsys, "domains")
    assert code == 0 and "retail: 16 tools (7 write), 12 rules" in out


@needs_reference
def test_demo_writes_its_results(capsys, tmp_path):
    from t2t import builtin_domains

    code, stdout, _ = run(capsys, "demo", "--out", str(tmp_path / "demo"))
    assert code == 0
    summary = json.loads((tmp_path / "demo" / "summary.json").read_text())
    assert set(summary["domains"]) == set(builtin_domains())
    retail = summary["domains"]["retail"]
    assert retail["generated_db"]["tables"] == {"products": 190, "users": 490, "orders": 2000}
    for name, part in summary["domains"].items():
        assert part["generated_db"]["consistency_problems"] == 0, name
        assert (tmp_path / "demo" / f"{name}_db.json").is_file()
    assert retail["tau2_replay"]["tasks"] == 114
    replay = retail["tau2_replay"]
    assert replay["with_failed_gold_calls"] == 18  # τ²'s own gold data, see README
    assert replay["breaking_policy_rules"] >= 3
    assert (
        replay["with_failed_gold_calls"]
        < 114 - replay["clean"]
        <= 18 + replay["breaking_policy_rules"]
    )
    replay_lines = (tmp_path / "demo" / "tau2_retail_replay.jsonl").read_text().splitlines()
    assert len(replay_lines) == 114
    for name, part in summary["domains"].items():  # the probes validate every task set
        scores = part["probes"]["pass^1"]
        assert all(v == 1.0 for v in scores["t2t/oracle"].values()), name
        for probe, kind in [
            ("eager", "ambiguous"),
            ("stubborn", "changing"),
            ("reckless", "infeasible"),
        ]:
            assert scores[f"t2t/{probe}"][kind] == 0.0, (name, probe)
            assert scores[f"t2t/{probe}"]["base"] == 1.0, (name, probe)
    assert "pass^1 / pass^2" in stdout and "t2t/reckless" in stdout
    code, _, err = run(capsys, "demo", "--out", str(tmp_path / "demo"))
    assert_user_error(code, err, "--force")


def test_bad_paths_are_one_line_errors(capsys, tmp_path, small_tasks):
    verify = ["verify", "--domain", "retail", "--tasks"]
    code, _, err = run(capsys, *verify, str(small_tasks), "--db", str(tmp_path))
    assert_user_error(code, err, "found a folder")
    as_dict = tmp_path / "dict.json"
    as_dict.write_text('{"id": "1"}')
    assert_user_error(*run(capsys, *verify, str(as_dict))[::2], "expected a JSON list of tasks")
    latin1 = tmp_path / "latin1.jsonl"
    latin1.write_bytes(b'{"id": "caf\xe9"}\n')
    assert_user_error(*run(capsys, *verify, str(latin1))[::2], "latin1.jsonl", "not UTF-8")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    assert_user_error(*run(capsys, *verify, str(empty))[::2], "empty.jsonl", "holds no tasks")
    a_file = tmp_path / "file"
    a_file.write_text("x")
    out = ["db", "generate", "--domain", "retail", "--scale", "small", "--out"]
    assert_user_error(*run(capsys, *out, str(a_file / "db.json"))[::2], "cannot create")
    assert_user_error(*run(capsys, *out, str(tmp_path), "--force")[::2], "is a folder")
    bad_size = ["db", "generate", "--domain", "retail", "--set", "n_orders=²", "--out"]
    assert_user_error(*run(capsys, *bad_size, str(tmp_path / "x.json"))[::2], "NAME=INTEGER")
    bad_scale = ["db", "generate", "--domain", "retail", "--scale", "huge", "--out"]
    assert_user_error(*run(capsys, *bad_scale, str(tmp_path / "y.json"))[::2], "huge", "paper")


def test_outputs_are_readable_by_others(capsys, tmp_path):
    out = tmp_path / "db.json"
    run(capsys, "db", "generate", "--domain", "retail", "--scale", "small", "--out", str(out))
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # as any file the user creates, not 0600
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left behind


@needs_reference
def test_failing_initialization_action_is_reported(capsys, tmp_path, small_tasks):
    tasks = json.loads(small_tasks.read_text())
    tasks[0]["initial_state"] = {
        "initialization_actions": [
            {
                "env_type": "assistant",
                "func_name": "cancel_pending_order",
                "arguments": {"order_id": "#NOPE", "reason": "no longer needed"},
            }
        ]
    }
    path = tmp_path / "init.json"
    path.write_text(json.dumps(tasks))
    replay = ["tau2", "replay", "--domain", "retail", "--db", str(REFERENCE / "db.json")]
    code, _, err = run(capsys, *replay, "--tasks", str(path), "--out", str(tmp_path / "o.jsonl"))
    assert_user_error(
        code, err, "task ok: initial_state", "initialization action 0", "Order not found"
    )
    tasks[0]["initial_state"]["initialization_actions"][0].pop("func_name")
    path.write_text(json.dumps(tasks))
    code, _, err = run(capsys, *replay, "--tasks", str(path), "--out", str(tmp_path / "o.jsonl"))
    assert_user_error(code, err, "initialization_actions.func_name")
    assert not (tmp_path / "o.jsonl").exists()


def test_verify_names_a_domain_mismatch(capsys, small_tasks):
    code, _, err = run(capsys, "verify", "--domain", "airline", "--tasks", str(small_tasks))
    assert_user_error(code, err, "tasks are for retail but the environment is airline")
