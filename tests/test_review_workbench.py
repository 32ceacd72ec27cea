"""Review findings on the workbench change, each pinned as a regression test."""

import sys

import pytest
from conftest import played, shared_task_set_path

import t2t.failures.figures
from t2t.benchmark.config import RunConfig
from t2t.benchmark.results import read_episodes
from t2t.benchmark.runner import run_rollouts
from t2t.cli import main
from t2t.core.schema import ToolCall
from t2t.failures.figures import save_figures, turns_distribution
from t2t.failures.inspector import TrajectoryInspector
from t2t.failures.report import load_section, write_report
from t2t.failures.taxonomy import classify_failures, episode_frame
from t2t.intents.checks import call_key
from t2t.intents.text import TRANSFER_TOOL
from t2t.tasks.task_set import open_task_set
from t2t.workbench import per_kind

REFUSAL_TEXT = "I'm sorry, I cannot do that: it is against our policy."


@pytest.fixture(scope="module")
def task_set_path(tmp_path_factory):
    return shared_task_set_path(tmp_path_factory, 40)


@pytest.fixture(scope="module")
def task_set(task_set_path):
    return open_task_set(task_set_path)


@pytest.fixture(scope="module")
def small_run(tmp_path_factory, task_set_path, task_set):
    """oracle + stubborn, one task of each kind, two trials: (results path, episodes)."""
    tasks, env = task_set
    out = tmp_path_factory.mktemp("review") / "runs.jsonl"
    for probe in ("oracle", "stubborn"):
        config = RunConfig(agent=f"t2t/{probe}", trials=2)
        run_rollouts(per_kind(tasks, 1), env, config, out, progress=False)
    return out, read_episodes(out)


def first_of(tasks, kind):
    return next(t for t in tasks if t.variant.kind == kind)


# ------------------------------------------------------------------------------ taxonomy


def test_a_proper_refusal_without_the_required_read_is_not_failed_to_refuse(task_set):
    tasks, env = task_set
    task = next(
        t for t in tasks if t.variant.kind == "infeasible" and t.variant.details.get("required")
    )
    required = {
        call_key(env, ToolCall(name=r["name"], arguments=r.get("arguments", {})))
        for r in task.variant.details["required"]
    }
    calls = [c for c in task.gold_calls if call_key(env, c) not in required]
    episode = played(task, env, calls, said=(REFUSAL_TEXT,))
    assert episode.reward.refused_ok is True and episode.reward.required_ok is False
    assert "failed_to_refuse" not in classify_failures(episode, task, env)


def test_ending_an_ambiguous_task_without_any_write_is_not_no_clarification(task_set):
    tasks, env = task_set
    task = first_of(tasks, "ambiguous")
    reads = [c for c in task.gold_calls if not env.domain.is_write(c.name)]
    for calls in (reads, [*reads, ToolCall(name=TRANSFER_TOOL, arguments={"summary": "x"})]):
        episode = played(task, env, calls, said=("Goodbye.",))
        assert episode.reward.details["first_write_index"] is None  # it acted on nothing
        found = classify_failures(episode, task, env)
        # `played` makes calls with values nobody said: hallucinated_value comes first
        assert found[0] == "hallucinated_value", found
        assert found[1] == "premature_end", found  # FAILURE_TYPES: "acted ... without asking"


def test_doing_only_the_writes_both_goals_share_is_not_ignored_change(task_set):
    tasks, env = task_set
    for task in tasks:
        if task.variant.kind != "changing":
            continue
        goal_a = [
            ToolCall(name=r["name"], arguments=r.get("arguments", {}))
            for r in task.variant.details["goal_a"]
        ]
        a_keys = {call_key(env, c) for c in goal_a if env.domain.is_write(c.name)}
        gold_keys = {call_key(env, c) for c in task.gold_calls if env.domain.is_write(c.name)}
        if a_keys & gold_keys and a_keys - gold_keys:
            break
    else:
        pytest.fail("no changing task whose goals share a write in the task set")
    shared = [c for c in task.gold_calls if call_key(env, c) in a_keys & gold_keys]
    reads = [c for c in task.gold_calls if not env.domain.is_write(c.name)]
    episode = played(task, env, [*reads, *shared], termination="max_steps")
    assert episode.reward.state_ok is False  # B's own write is missing, no A-only write made
    assert "ignored_change" not in classify_failures(episode, task, env)


# ------------------------------------------------------------------------------ figures


def test_turns_distribution_keeps_runs_apart(small_run, task_set):
    episodes = small_run[1]
    frame = episode_frame(episodes, *task_set)
    assert frame.run.nunique() == 2
    figure = turns_distribution(frame)
    shown = {t.name for t in figure.data} | {a.text for a in figure.layout.annotations}
    for trace in figure.data:
        shown |= {str(v) for v in (trace.x if trace.x is not None else [])}
    assert set(frame.run) <= shown, shown


def test_automatic_png_without_kaleido_writes_html_only(small_run, task_set, tmp_path, monkeypatch):
    frame = episode_frame(small_run[1], *task_set)
    monkeypatch.setattr(t2t.failures.figures, "_chromium", lambda: "/usr/bin/chromium")
    monkeypatch.setenv("BROWSER_PATH", "/usr/bin/chromium")  # restored after the test
    monkeypatch.setitem(sys.modules, "kaleido", None)  # `import kaleido` raises ImportError
    written = save_figures({"turns": turns_distribution(frame)}, tmp_path)
    assert written == [tmp_path / "turns.html"]


# ------------------------------------------------------------------------------ report / CLI


def test_report_html_without_tasks_classifies_without_the_task_set(small_run, tmp_path, capsys):
    results = small_run[0]
    section = load_section(results)  # --tasks is optional: a wrong state is then "other"
    assert (section.frame.failure[section.frame.outcome == "fail"] == "other").all()
    out = tmp_path / "r.html"
    assert main(["report", str(results), "--html", str(out)]) == 0
    assert out.exists()


def test_cli_figures_pointing_at_a_file_is_a_one_line_error(
    small_run, task_set_path, tmp_path, capsys
):
    results = small_run[0]
    afile = tmp_path / "figures"
    afile.write_text("")
    args = ["report", str(results), "--tasks", str(task_set_path)]
    args += ["--html", str(tmp_path / "r.html"), "--figures", str(afile)]
    assert main(args) == 2
    assert "figures" in capsys.readouterr().err


def test_report_with_an_all_infra_error_run_is_still_written(small_run, task_set_path, tmp_path):
    results, episodes = small_run
    broken = tmp_path / "broken.jsonl"
    lines = [
        e.model_copy(
            update={"termination_reason": "infra_error", "reward": None, "error": "no key"}
        ).model_dump_json()
        for e in episodes
    ]
    broken.write_text("\n".join(lines) + "\n")
    sections = [load_section(results, task_set_path), load_section(broken, task_set_path)]
    page = write_report(sections, tmp_path / "r.html", png=False).read_text(encoding="utf-8")
    assert "<h2>broken</h2>" in page and "infra_error" in page


def test_two_results_files_with_the_same_name_keep_their_own_figures(
    small_run, task_set_path, tmp_path
):
    results, _ = small_run
    lines = results.read_text().splitlines(keepends=True)
    paths = []
    for name, part in (("a", lines), ("b", lines[: len(lines) // 2])):
        (tmp_path / name).mkdir()
        (tmp_path / name / "runs.jsonl").write_text("".join(part))
        paths.append(tmp_path / name / "runs.jsonl")
    sections = [load_section(p, task_set_path) for p in paths]
    figures = tmp_path / "figures"
    write_report(sections, tmp_path / "r.html", figures_dir=figures, png=False)
    assert len({p.parent for p in figures.rglob("pass_k_heatmap.html")}) == 2


# ------------------------------------------------------------------------------ inspector


def test_inspector_tells_runs_of_one_agent_apart(small_run, task_set):
    tasks, env = task_set
    oracle = [e for e in small_run[1] if e.agent_model == "t2t/oracle"][:2]
    other_user = [e.model_copy(update={"user_model": "gpt-x"}) for e in oracle]
    inspector = TrajectoryInspector([*oracle, *other_user], tasks, env)
    labels = [label for label, _ in inspector.episode_list.options]
    assert len(set(labels)) == len(labels), labels
