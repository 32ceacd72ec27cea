"""`t2t generate`: writes a resumable task set; user errors are one line on stderr and exit 2."""

import json

import pytest

from t2t.cli import main

SMALL = ["generate", "--domain", "retail", "--scale", "small", "--workers", "1", "-q"]


def generate(out, *extra):
    return main([*SMALL, "--out", str(out), *extra])


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("t2t: error: "), err
    return err


def test_generate_writes_the_task_set(tmp_path, capsys):
    out = tmp_path / "run"
    assert generate(out, "--n", "8") == 0
    printed = capsys.readouterr().out
    assert f"{out}/tasks.jsonl: 8 tasks" in printed
    for kind in ("base", "ambiguous", "changing", "infeasible"):
        assert f"  {kind}" in printed and "kept     2" in printed
    rows = [json.loads(line) for line in (out / "tasks.jsonl").read_text().splitlines()]
    assert len(rows) == 8 and len({r["id"] for r in rows}) == 8
    assert len(json.loads((out / "tau2" / "tasks.json").read_text())) == 8
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["scale"] == "small" and manifest["config"]["n"] == 8


def test_other_settings_in_the_same_folder_exit_2_unless_forced(tmp_path, capsys):
    out = tmp_path / "run"
    base_only = ["--n", "4", "--variants", "base"]
    assert generate(out, *base_only) == 0
    capsys.readouterr()
    before = (out / "tasks.jsonl").read_bytes()
    assert generate(out, *base_only, "--seed", "7") == 2
    assert "--force" in one_error_line(capsys)
    assert (out / "tasks.jsonl").read_bytes() == before
    assert generate(out, *base_only, "--seed", "7", "--force") == 0
    assert (out / "tasks.jsonl").read_bytes() != before


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--variants", "base,sarcastic"], "sarcastic"),
        (["--variants", " , "], "--variants"),
        (["--scale", "huge"], "huge"),
        (["--n", "0"], "--n"),
        (["--domain", "no_such_domain"], "no_such_domain"),
    ],
)
def test_bad_settings_exit_2_with_one_line(tmp_path, capsys, extra, named):
    out = tmp_path / "run"
    assert generate(out, "--n", "4", *extra) == 2
    assert named in one_error_line(capsys)
    assert not (out / "tasks.jsonl").exists()


def test_an_output_that_is_a_file_exits_2(tmp_path, capsys):
    target = tmp_path / "tasks.jsonl"
    target.write_text("mine\n")
    assert generate(target, "--n", "4") == 2
    assert "is a file" in one_error_line(capsys)
    assert target.read_text() == "mine\n"


def test_only_the_chosen_kinds_are_generated(tmp_path, capsys):
    out = tmp_path / "run"
    assert generate(out, "--n", "3", "--variants", "infeasible") == 0
    rows = [json.loads(line) for line in (out / "tasks.jsonl").read_text().splitlines()]
    assert [r["variant"]["kind"] for r in rows] == ["infeasible"] * 3
    assert "ambiguous" not in capsys.readouterr().out
