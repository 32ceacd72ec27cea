"""Failure taxonomy, figures and the HTML report, on real probe runs and hand-made episodes."""

import json

import pytest
from conftest import played, shared_task_set_path

from t2t.benchmark.config import RunConfig
from t2t.benchmark.passk import is_infra_error, pass_k_long, summarize
from t2t.benchmark.results import read_episodes
from t2t.benchmark.runner import run_rollouts
from t2t.benchmark.scoring import evaluate_episode
from t2t.benchmark.uncertainty import bootstrap_ci, format_interval
from t2t.cli import main
from t2t.core.errors import ConfigError, DataError
from t2t.core.schema import Message
from t2t.failures.figures import (
    failure_breakdown,
    pass_k_curves,
    pass_k_heatmap,
    save_figures,
    turns_distribution,
)
from t2t.failures.report import load_section, write_report
from t2t.failures.taxonomy import FAILURE_TYPES, classify_failures, episode_frame, failure_counts
from t2t.tasks.task_set import open_task_set
from t2t.workbench import per_kind

PROBES = ("oracle", "eager", "stubborn", "reckless", "random")


@pytest.fixture(scope="module")
def probe_run(tmp_path_factory):
    """Every probe, 2 trials, on 3 tasks of each kind: (tasks path, results path, episodes)."""
    tasks_path = shared_task_set_path(tmp_path_factory, 40)
    tasks, env = open_task_set(tasks_path)
    chosen = per_kind(tasks, 3)
    out = tmp_path_factory.mktemp("analysis") / "runs.jsonl"
    for probe in PROBES:
        run_rollouts(chosen, env, RunConfig(agent=f"t2t/{probe}", trials=2), out, progress=False)
    return tasks_path, out, read_episodes(out)


@pytest.fixture(scope="module")
def task_set(probe_run):
    return open_task_set(probe_run[0])


@pytest.fixture(scope="module")
def frame(probe_run, task_set):
    return episode_frame(probe_run[2], *task_set)


def by_id(task_set):
    return {t.id: t for t in task_set[0]}


def base_task_with_write(task_set):
    tasks, env = task_set
    for task in tasks:
        writes = [c for c in task.gold_calls if env.domain.is_write(c.name)]
        if task.variant.kind == "base" and writes and not task.evaluation_criteria.communicate_info:
            return task
    pytest.skip("no base task with a write and nothing to say")


# ------------------------------------------------------------------------------ taxonomy


def test_each_flawed_probe_fails_only_for_its_own_reason_on_its_own_variant(frame):
    failing = frame[frame.outcome == "fail"]
    expected = {
        "t2t/eager": {("ambiguous", "no_clarification")},
        "t2t/stubborn": {("changing", "ignored_change")},
        "t2t/reckless": {("infeasible", "policy_violation")},
    }
    for agent, pairs in expected.items():
        mine = failing[failing.agent_model == agent]
        assert set(zip(mine.variant, mine.failure, strict=True)) == pairs
        assert len(mine) == 6  # 3 tasks × 2 trials, every one caught
    assert (frame[frame.agent_model == "t2t/oracle"].outcome == "pass").all()
    assert (frame[frame.agent_model == "t2t/random"].outcome == "fail").all()
    assert set(frame.failure) - {""} <= set(FAILURE_TYPES)


def test_eager_guess_is_also_a_wrong_or_missing_write(frame):
    eager = frame[(frame.agent_model == "t2t/eager") & (frame.outcome == "fail")]
    for failures in eager.failures:
        kinds = set(failures.split(", "))
        assert kinds & {"wrong_arguments", "extra_write", "missing_write"}, failures


def test_gold_calls_pass_and_no_calls_is_a_premature_end(task_set):
    task, env = base_task_with_write(task_set), task_set[1]
    assert classify_failures(played(task, env, task.gold_calls), task, env) == []
    assert classify_failures(played(task, env, []), task, env) == [
        "premature_end",
        "missing_write",
    ]


def test_a_changed_argument_is_wrong_arguments_and_a_second_record_an_extra_write(task_set):
    tasks, env = task_set
    task = base_task_with_write(task_set)
    write = next(c for c in task.gold_calls if env.domain.is_write(c.name))
    # the same write on the same record with another value of one argument
    reads = [c for c in task.gold_calls if not env.domain.is_write(c.name)]
    for other in tasks:
        candidate = next((c for c in other.gold_calls if c.name == write.name), None)
        if candidate is None or candidate.arguments == write.arguments:
            continue
        episode = played(task, env, [*reads, candidate])
        found = classify_failures(episode, task, env)
        if episode.reward.state_ok is False and "premature_end" not in found:
            assert {"missing_write", "extra_write"} & set(found) or "wrong_arguments" in found
            assert "other" not in found
            return
    pytest.skip("no second write of the same tool in the task set")


def _told(task, env, calls):
    """`played`, but the user said every value of the task's gold calls first."""
    episode = played(task, env, calls)
    said = json.dumps([c.arguments for c in task.gold_calls])
    messages = [Message(role="user", content=said), *episode.messages[1:]]
    reward = evaluate_episode(task, messages, env)
    return episode.model_copy(update={"messages": messages, "reward": reward})


def test_a_value_nobody_gave_is_a_hallucinated_value(task_set):
    task, env = base_task_with_write(task_set), task_set[1]
    index, write = next(
        (i, c) for i, c in enumerate(task.gold_calls) if env.domain.is_write(c.name)
    )
    key = next(k for k, v in write.arguments.items() if isinstance(v, str))
    made_up = write.model_copy(update={"arguments": {**write.arguments, key: "zz-made-up-9"}})
    calls = [*task.gold_calls[:index], made_up]

    hallucinated = _told(task, env, calls)
    assert hallucinated.reward.details["grounded"] is False
    found = classify_failures(hallucinated, task, env)
    assert "hallucinated_value" in found, found
    state_types = {"missing_write", "wrong_arguments", "extra_write", "premature_end"}
    assert found.index("hallucinated_value") < min(
        (found.index(t) for t in state_types & set(found)), default=len(found)
    )

    honest = _told(task, env, task.gold_calls[:index])  # grounded, but stops short
    assert honest.reward.details["grounded"] is True and honest.reward.value == 0.0
    assert "hallucinated_value" not in classify_failures(honest, task, env)

    lucky = played(task, env, task.gold_calls)  # right, but nobody told it the values
    assert lucky.reward.value == 1.0 and lucky.reward.details["grounded"] is False
    assert classify_failures(lucky, task, env) == []  # the reward is not changed
    rows = episode_frame([lucky, honest, hallucinated], [task], env)
    assert list(rows.grounded) == [False, True, False]
    assert list(rows.outcome) == ["pass", "fail", "fail"]


def test_termination_reasons_and_infra_errors(task_set):
    task, env = base_task_with_write(task_set), task_set[1]
    limit = played(task, env, [], termination="max_steps")
    assert classify_failures(limit, task, env)[0] == "step_limit"
    loop = played(task, env, [], termination="agent_error").model_copy(
        update={"error": "10 failed tool calls in a row"}
    )
    assert classify_failures(loop, task, env)[0] == "tool_error_loop"
    infra = limit.model_copy(update={"termination_reason": "infra_error", "reward": None})
    assert classify_failures(infra, task, env) == ["infra_error"]
    row = episode_frame([infra], [task], env).iloc[0]
    assert (row.outcome, row.failure) == ("infra_error", "infra_error")


def test_without_the_task_set_a_wrong_state_is_other(task_set):
    task, env = base_task_with_write(task_set), task_set[1]
    episode = played(task, env, [])
    assert classify_failures(episode, None, None) == ["other"]
    assert episode_frame([episode]).iloc[0].failure == "other"


def test_episodes_of_another_task_set_are_refused(task_set, probe_run):
    tasks, env = task_set
    for wrong in (tasks[:1], [], {}):
        with pytest.raises(DataError, match="not in the task set"):
            episode_frame(probe_run[2], wrong, env)


def test_runs_with_other_settings_or_users_are_never_blended(probe_run):
    oracle = [e for e in probe_run[2] if e.agent_model == "t2t/oracle"]
    failed = oracle[0].reward.model_copy(update={"value": 0.0, "state_ok": False})
    other = [e.model_copy(update={"config_hash": "f" * 16, "reward": failed}) for e in oracle]
    other_user = [e.model_copy(update={"user_model": "gpt-x"}) for e in oracle]
    episodes = oracle + other + other_user
    heat = pass_k_heatmap(episodes).data[0]
    assert len(heat.y) == 3 and len(set(heat.y)) == 3
    rows = dict(zip(heat.y, heat.z, strict=True))
    assert sorted(min(z) for z in rows.values()) == [0.0, 1.0, 1.0]
    assert "t2t/oracle · gpt-x" in rows
    assert any(label.endswith("[ffffffff]") for label in rows)
    assert len({t.name for t in pass_k_curves(episodes).data}) == 3
    assert episode_frame(episodes).run.nunique() == 3


def test_failure_counts_add_up_to_the_failing_episodes(frame):
    counts = failure_counts(frame)
    assert counts.episodes.sum() == (frame.outcome != "pass").sum()
    for (run, variant), rows in counts.groupby(["run", "variant"]):
        of = ((frame.run == run) & (frame.variant == variant)).sum()
        assert (rows["of"] == of).all()
        assert rows.share.sum() == pytest.approx(rows.episodes.sum() / of)


# ------------------------------------------------------------------------------ figures


def test_heatmap_cells_are_the_summary_pass_k(probe_run):
    episodes = probe_run[2]
    figure = pass_k_heatmap(episodes, k=2)
    heat = figure.data[0]
    table = summarize(episodes, max_k=2)
    for i, agent in enumerate(heat.y):
        for j, variant in enumerate(heat.x):
            row = table[(table.agent_model == agent) & (table.variant == variant)]
            assert heat.z[i][j] == pytest.approx(row["pass^2"].item())
    assert list(heat.x)[:4] == ["base", "ambiguous", "changing", "infeasible"]
    with pytest.raises(DataError, match="pass\\^3"):
        pass_k_heatmap(episodes, k=3)


def test_pass_k_curves_one_line_per_agent_and_variant(probe_run):
    figure = pass_k_curves(probe_run[2])
    names = {trace.name for trace in figure.data}
    assert names == {f"t2t/{p}" for p in PROBES}
    assert len(figure.data) == len(PROBES) * 4
    assert {a.text for a in figure.layout.annotations} == {
        "base",
        "ambiguous",
        "changing",
        "infeasible",
    }


def test_summary_intervals_resample_the_tasks_of_real_runs(probe_run):
    episodes = probe_run[2]
    table = summarize(episodes)
    widths = []
    for _, r in table.iterrows():
        trials: dict[str, list[bool]] = {}  # per task, in the order the episodes came
        for e in episodes:
            if e.agent_model == r.agent_model and r.variant in ("all", e.variant):
                if not is_infra_error(e):
                    trials.setdefault(e.task_id, []).append(e.reward.value == 1.0)
        values = [sum(t) / len(t) for t in trials.values()]
        assert (r.pass_hat_1_lo, r.pass_hat_1_hi) == bootstrap_ci(values)
        assert r.pass_hat_1_lo <= r["pass^1"] <= r.pass_hat_1_hi
        widths.append(r.pass_hat_1_hi - r.pass_hat_1_lo)
        if r.agent_model == "t2t/oracle":
            assert (r.pass_hat_2_lo, r.pass_hat_2_hi) == (1.0, 1.0)
        if r.agent_model == "t2t/eager" and r.variant == "ambiguous":
            assert (r.pass_hat_1_lo, r.pass_hat_1_hi) == (0.0, 0.0)
            assert (r.clarified_ok_lo, r.clarified_ok_hi) == (0.0, 0.0)
    assert max(widths) > 0.2  # 12 tasks, some failing: the interval is wide


def test_pass_k_curves_carry_the_intervals_as_error_bars(probe_run):
    episodes = probe_run[2]
    figure = pass_k_curves(episodes)
    long = pass_k_long(episodes)
    long = long[long.variant != "all"]
    for agent in long.agent_model.unique():
        traces = [t for t in figure.data if t.name == agent]
        drawn = [
            (k, y - below, y + above)
            for t in traces
            for k, y, above, below in zip(
                t.x, t.y, t.error_y.array, t.error_y.arrayminus, strict=True
            )
        ]
        mine = long[long.agent_model == agent]
        expected = list(zip(mine.k, mine.pass_hat_k_lo, mine.pass_hat_k_hi, strict=True))
        rounded = sorted((k, round(lo, 9), round(hi, 9)) for k, lo, hi in drawn)
        assert rounded == sorted((k, round(lo, 9), round(hi, 9)) for k, lo, hi in expected)


def test_heatmap_cells_show_the_interval(probe_run):
    episodes = probe_run[2]
    heat = pass_k_heatmap(episodes).data[0]
    table = summarize(episodes)
    for i, agent in enumerate(heat.y):
        for j, variant in enumerate(heat.x):
            r = table[(table.agent_model == agent) & (table.variant == variant)].iloc[0]
            cell = format_interval(r["pass^1"], r.pass_hat_1_lo, r.pass_hat_1_hi)
            assert heat.text[i][j] == cell.replace(" [", "<br>[")
    assert "%{text}" in heat.hovertemplate


def test_failure_breakdown_bars_are_the_counts(frame):
    figure = failure_breakdown(frame)
    counts = failure_counts(frame)
    shown = sum(len(trace.y) for trace in figure.data)
    assert shown == len(counts)
    assert {trace.name for trace in figure.data} == set(counts.failure)
    assert sum(sum(trace.y) for trace in figure.data) == pytest.approx(
        counts.share.sum(),
    )


def test_turns_distribution_splits_pass_and_fail(frame):
    figure = turns_distribution(frame)
    assert {trace.name for trace in figure.data} == set(frame.outcome.astype(str))


def test_figures_saved_as_html_with_plotlyjs_once(frame, tmp_path, probe_run):
    figures = {"heat": pass_k_heatmap(probe_run[2]), "turns": turns_distribution(frame)}
    written = save_figures(figures, tmp_path, png=False)
    assert [p.name for p in written] == ["heat.html", "turns.html"]
    assert (tmp_path / "plotly.min.js").stat().st_size > 1_000_000
    assert 'src="plotly.min.js"' in (tmp_path / "heat.html").read_text()
    assert not list(tmp_path.glob("*.png"))


def test_png_without_chromium_says_what_to_install(frame, tmp_path, monkeypatch):
    import t2t.failures.figures

    monkeypatch.setattr(t2t.failures.figures, "_chromium", lambda: None)
    with pytest.raises(ConfigError, match="apt-get install chromium"):
        save_figures({"turns": turns_distribution(frame)}, tmp_path, png=True)
    assert save_figures({"turns": turns_distribution(frame)}, tmp_path / "auto") == [
        tmp_path / "auto" / "turns.html"
    ]


# ------------------------------------------------------------------------------ report


def test_report_has_each_section_tables_and_figures(probe_run, tmp_path):
    tasks_path, results, episodes = probe_run
    section = load_section(results, tasks_path)
    path = write_report(
        [section], tmp_path / "report.html", figures_dir=tmp_path / "figs", png=False
    )
    page = path.read_text(encoding="utf-8")
    assert page.count("Plotly.newPlot") == 5
    assert page.count("<script>/**") + page.count("plotly.js v") >= 1
    assert f"<h2>{results.stem}</h2>" in page
    assert "no_clarification" in page and "ignored_change" in page
    assert "t2t/oracle" in page
    assert "95% bootstrap interval over tasks" in page
    assert "1.000 [1.000, 1.000]" in page  # the oracle's pass^1 with its interval
    assert "pass_hat_1_lo" not in page  # folded into the cells
    assert sorted(p.name for p in (tmp_path / "figs" / results.stem).glob("*.html")) == [
        "cost_vs_success.html",
        "failure_breakdown.html",
        "pass_k_curves.html",
        "pass_k_heatmap.html",
        "turns_distribution.html",
    ]


def test_cli_report_html_and_its_errors(probe_run, tmp_path, capsys):
    tasks_path, results, _ = probe_run
    out = tmp_path / "r.html"
    code = main(["report", str(results), "--tasks", str(tasks_path), "--html", str(out)])
    assert code == 0 and out.stat().st_size > 1_000_000
    assert f"wrote {out}" in capsys.readouterr().out
    code = main(
        ["report", str(results), "--tasks", str(tasks_path), "--tasks", str(tasks_path)]
        + ["--html", str(out), "--force"]
    )
    assert code != 0
    assert "once per file (1)" in capsys.readouterr().err
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert main(["report", str(empty), "--html", str(out)]) != 0  # exists: refused
    assert "exists; pass --force" in capsys.readouterr().err
    assert main(["report", str(empty), "--html", str(out), "--force"]) != 0
    assert "no episodes" in capsys.readouterr().err
    assert json.loads(results.read_text().splitlines()[0])["task_id"]  # results untouched
