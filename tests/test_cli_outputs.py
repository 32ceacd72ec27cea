"""No command loses a user's file: an output that is one of the command's inputs is refused
outright, and an existing output is kept unless --force (resumable outputs aside)."""

import json
import shutil

import pytest
from conftest import shared_task_set_path

from t2t.cli import main


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A task set (JSONL and τ² JSON), its DB, results and SFT data, in a folder of their own."""
    folder = tmp_path_factory.mktemp("inputs")
    source = shared_task_set_path(tmp_path_factory, 16)
    shutil.copy(source, folder / "tasks.jsonl")
    shutil.copy(source.parent / "db.json", folder / "db.json")
    argv = ["--quiet", "--tasks", folder / "tasks.jsonl", "--out"]
    assert main([str(a) for a in ["tau2", "export", *argv, folder / "tau2.json"]]) == 0
    run = ["run", "--agent", "t2t/oracle", "--limit", "3", *argv, folder / "results.jsonl"]
    assert main([str(a) for a in run]) == 0
    export = ["export-sft", folder / "results.jsonl", *argv, folder / "sft"]
    assert main([str(a) for a in export]) == 0
    return folder


def _argv(template, files):
    return [str(files / part[1:]) if part.startswith("@") else part for part in template]


# every command that writes, with an output named as one of its own inputs (@ = a file above)
OVER_AN_INPUT = {
    "report --csv": ["report", "@results.jsonl", "--csv", "@results.jsonl"],
    "report --html": ["report", "@results.jsonl", "--html", "@results.jsonl"],
    "report --html (tasks)": [
        "report",
        "@results.jsonl",
        "--tasks",
        "@tasks.jsonl",
        "--html",
        "@tasks.jsonl",
    ],
    "verify": ["verify", "--domain", "retail", "--tasks", "@tasks.jsonl", "--out", "@tasks.jsonl"],
    "verify (db)": ["verify", "--domain", "retail", "--db", "@db.json", "--tasks", "@tau2.json"]
    + ["--out", "@db.json"],
    "run": ["run", "--agent", "t2t/oracle", "--tasks", "@tasks.jsonl", "--out", "@tasks.jsonl"],
    "tau2 import": ["tau2", "import", "--tasks", "@tau2.json", "--out", "@tau2.json"],
    "tau2 export": ["tau2", "export", "--tasks", "@tasks.jsonl", "--out", "@tasks.jsonl"],
    "tau2 replay": ["tau2", "replay", "--domain", "retail", "--db", "@db.json"]
    + ["--tasks", "@tau2.json", "--out", "@tau2.json"],
    "audit --json": ["audit", "@tasks.jsonl", "--json", "@tasks.jsonl"],
    "export-sft": [
        "export-sft",
        "@results.jsonl",
        "--tasks",
        "@tasks.jsonl",
        "--out",
        "@tasks.jsonl",
    ],
    "train": ["train", "--base", "@sft", "--data", "@sft", "--out", "@sft"],
    "compare": ["compare", "--model", "t2t/oracle", "--tasks", "@tasks.jsonl"]
    + ["--out", "@tasks.jsonl"],
}


def _snapshot(files):
    return {p.relative_to(files): p.read_bytes() for p in sorted(files.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name", OVER_AN_INPUT)
def test_an_output_that_is_an_input_is_refused_even_with_force(files, capsys, name):
    before = _snapshot(files)
    resumable = name in ("run", "compare")  # they append to their output: no --force
    for force in ([], [] if resumable else ["--force"]):
        code = main([*_argv(OVER_AN_INPUT[name], files), *force, "--quiet"])
        err = capsys.readouterr().err
        assert code == 2, name
        assert err.count("\n") == 1 and "is also an input of this command" in err, err
    assert _snapshot(files) == before  # not one byte of any input changed


# commands whose output is a plain file, not a resumable folder or results file
EXISTING = {
    "report --csv": ["report", "@results.jsonl", "--csv", "@taken"],
    "report --html": ["report", "@results.jsonl", "--html", "@taken"],
    "verify": ["verify", "--domain", "retail", "--tasks", "@tasks.jsonl", "--out", "@taken"],
    "tau2 import": ["tau2", "import", "--tasks", "@tau2.json", "--out", "@taken"],
    "tau2 export": ["tau2", "export", "--tasks", "@tasks.jsonl", "--out", "@taken"],
    "audit --json": ["audit", "@tasks.jsonl", "--json", "@taken"],
    "db generate": ["db", "generate", "--domain", "retail", "--scale", "small", "--out", "@taken"],
}


@pytest.mark.parametrize("name", EXISTING)
def test_an_existing_output_is_kept_unless_forced(files, capsys, name):
    taken = files / "taken"
    taken.write_text("a file the user keeps\n")
    code = main([*_argv(EXISTING[name], files), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "exists; pass --force" in err, err
    assert taken.read_text() == "a file the user keeps\n"
    assert main([*_argv(EXISTING[name], files), "--quiet", "--force"]) in (0, 1)  # 1: findings
    assert taken.read_text() != "a file the user keeps\n"
    if name.startswith("report --csv"):
        assert "pass^1" in taken.read_text()
    elif name.startswith(("tau2", "db")):
        json.loads(taken.read_text() if "import" not in name else taken.read_text().split("\n")[0])
    taken.unlink()
