"""Review of the benchmark stack (probes, users, rollout, episode log, evaluate, run/report).

Tests pinning bugs found in review (each failed before its fix) and behaviours checked. The
plain tests pin behaviours verified during the review that had no test yet.
"""

import asyncio
import json
from collections import Counter

import pytest

import t2t
from t2t.benchmark.config import RunConfig
from t2t.benchmark.episode import run_episode
from t2t.benchmark.passk import summarize
from t2t.benchmark.probes import confirmation_text
from t2t.benchmark.results import episode_key, read_episodes
from t2t.benchmark.runner import run_rollouts, run_rollouts_async
from t2t.benchmark.scoring import evaluate_episode
from t2t.benchmark.users import ScriptedUser
from t2t.cli import main
from t2t.core.schema import Message, ToolCall
from t2t.intents.ambiguous import CLARIFY_TEXT
from t2t.llm import Completion, register_provider, unregister_provider
from t2t.tasks.task_set import open_task_set

# ------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def task_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("review-retail")
    t2t.generate_tasks(t2t.GenerateConfig(domain="retail", n=24), folder, workers=1, progress=False)
    return folder


@pytest.fixture(scope="module")
def task_set(task_dir):
    return open_task_set(task_dir / "tasks.jsonl")


@pytest.fixture(scope="module")
def other_task_dir(tmp_path_factory):
    """Same domain and explorer seed, another DB seed: same task ids, other tasks."""
    folder = tmp_path_factory.mktemp("review-retail-db1")
    config = t2t.GenerateConfig(domain="retail", n=8, db_seed=1)
    t2t.generate_tasks(config, folder, workers=1, progress=False)
    return folder


def _writes(task, env):
    return [i for i, c in enumerate(task.gold_calls) if env.domain.is_write(c.name)]


def _kind(tasks, kind):
    return [t for t in tasks if t.variant.kind == kind]


def _pick(tasks, env, kind, *, min_writes=0):
    for task in _kind(tasks, kind):
        if len(_writes(task, env)) >= min_writes:
            return task
    pytest.skip(f"no {kind} task with {min_writes}+ writes in the fixture set")


def _conversation(task, calls, *, before_call=None, closing="Done."):
    """Greeting, the user's request, one message per call (with an ok tool reply), a closing."""
    messages = [
        Message(role="assistant", content="Hi! How can I help you today?"),
        Message(role="user", content="Hi. I need help."),
    ]
    for index, call in enumerate(calls):
        for extra in (before_call or {}).get(index, []):
            messages.append(extra)
        call_id = f"call_{index}"
        messages.append(
            Message(role="assistant", tool_calls=[call.model_copy(update={"id": call_id})])
        )
        messages.append(Message(role="tool", content="ok", tool_call_id=call_id))
    messages.append(Message(role="assistant", content=closing))
    return messages


def _play(task, env, agent="t2t/oracle", **config):
    """One probe episode, in process (the probes must be registered for the task)."""
    from t2t.benchmark.batch import prepare

    run_config = RunConfig(agent=agent, **config)
    prepare([task], env, run_config)
    episode, _ = asyncio.run(run_episode(task, env, run_config, 0))
    return episode


def _cli(capsys, *argv):
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse rejects an argument: its own exit 2
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def _user_error(code, err):
    return code == 2 and "Traceback" not in err


# -------------------------------------------------------------------------------- scoring bugs


def test_infeasible_needs_a_refusal(task_set):
    tasks, env = task_set
    task = _pick(tasks, env, "infeasible")
    messages = _conversation(
        task, task.gold_calls, closing="All done! Your request is complete. Anything else?"
    )
    reward = evaluate_episode(task, messages, env)
    assert reward.value == 0.0, reward


def test_asking_right_before_the_ambiguous_write_is_a_clarification(task_set):
    tasks, env = task_set
    task = _pick(tasks, env, "ambiguous", min_writes=2)
    details = task.variant.details
    last_write = _writes(task, env)[-1]
    ask = [
        Message(role="assistant", content=CLARIFY_TEXT),
        Message(role="user", content=f"I mean the one with {details['withheld']}."),
    ]
    messages = _conversation(task, task.gold_calls, before_call={last_write: ask})
    reward = evaluate_episode(task, messages, env)
    assert reward.state_ok is True
    assert reward.clarified_ok is True, reward.details


class _ScriptAgent:
    """An agent stub for `run_episode`: plays fixed replies in order."""

    def __init__(self, replies):
        self.replies = list(replies)

    async def act(self, task, messages, *, trial, **extra):
        message = self.replies.pop(0) if self.replies else Message(role="assistant", content="Bye")
        return Completion(message=message, model="stub/agent")


def test_calls_after_a_transfer_in_the_same_message_are_not_scored_as_made(task_set):
    tasks, env = task_set
    task = _pick(tasks, env, "base", min_writes=1)
    transfer = ToolCall(id="t0", name="transfer_to_human_agents", arguments={"summary": "help"})
    calls = [transfer] + [
        c.model_copy(update={"id": f"c{i}"}) for i, c in enumerate(task.gold_calls)
    ]
    agent = _ScriptAgent([Message(role="assistant", tool_calls=calls)])
    config = RunConfig(agent="stub/agent")
    episode, _ = asyncio.run(run_episode(task, env, config, 0, agent=agent))
    assert episode.termination_reason == "transfer"
    ran = [m.tool_call_id for m in episode.messages if m.role == "tool"]
    assert ran == ["t0"]  # none of the gold calls ran
    assert episode.reward.state_ok is False, "the DB of the episode was never changed"


def test_a_probe_bug_is_not_an_infrastructure_error(task_set, tmp_path, monkeypatch):
    import t2t.benchmark.probes

    tasks, env = task_set

    def broken(*args, **kwargs):
        raise KeyError("slot")

    monkeypatch.setattr(t2t.benchmark.probes, "next_probe_turn", broken)
    out = tmp_path / "run.jsonl"
    config = RunConfig(agent="t2t/oracle", agent_params={"max_retries": 0})
    try:
        run_rollouts(tasks[:2], env, config, out, progress=False)
    except KeyError:
        return  # a traceback is the fix STYLE.md asks for
    reasons = {e.termination_reason for e in read_episodes(out)}
    assert "infra_error" not in reasons, reasons


# ------------------------------------------------------------------------------- resume bugs


def test_a_different_task_set_with_the_same_ids_is_not_taken_as_done(
    task_set, other_task_dir, tmp_path
):
    tasks, env = task_set
    others, other_env = open_task_set(other_task_dir / "tasks.jsonl")
    by_id = {t.id: t for t in tasks}
    changed = [t for t in others if t.id in by_id and t != by_id[t.id]][:3]
    assert changed, "the two task sets share no id"
    out = tmp_path / "run.jsonl"
    config = RunConfig(agent="t2t/oracle", concurrency=4)
    run_rollouts([by_id[t.id] for t in changed], env, config, out, progress=False)
    try:
        stats = run_rollouts(changed, other_env, config, out, progress=False)
    except t2t.T2TError:
        return  # refusing to mix task sets is a fix too
    assert stats.skipped == 0 and stats.ran == len(changed)


def test_the_agent_seed_reaches_the_model_and_the_cache_key(task_set, tmp_path):
    tasks, env = task_set
    calls = []

    def handler(request):
        calls.append(request)
        return "Done. Is there anything else I can help you with?"

    register_provider("review-model", handler)
    try:
        cache = str(tmp_path / "cache")
        base = RunConfig(agent="review-model/x", cache_dir=cache, agent_params={"seed": 0})
        run_rollouts(tasks[:3], env, base, tmp_path / "s0.jsonl", progress=False)
        assert len(calls) == 3 and calls[0].params.get("seed") == 0
        seeded = base.model_copy(update={"agent_params": {"seed": 1}})
        assert seeded.config_hash() != base.config_hash()
        run_rollouts(tasks[:3], env, seeded, tmp_path / "s1.jsonl", progress=False)
    finally:
        unregister_provider("review-model")
    assert len(calls) == 6, "seed 1 was served seed 0's cached replies"
    assert "seed" not in RunConfig.model_fields  # no run-level seed that reaches nothing


def test_two_runs_on_one_file_at_once_do_not_duplicate(task_set, tmp_path):
    tasks, env = task_set
    out = tmp_path / "run.jsonl"
    config = RunConfig(agent="t2t/oracle", concurrency=4)

    async def both():
        return await asyncio.gather(
            run_rollouts_async(tasks[:4], env, config, out, progress=False),
            run_rollouts_async(tasks[:4], env, config, out, progress=False),
            return_exceptions=True,
        )

    first, second = asyncio.run(both())
    assert first.ran == 4
    assert isinstance(second, t2t.ConfigError) and "another run is writing" in str(second)
    counts = Counter(episode_key(e) for e in read_episodes(out, latest=False))
    assert set(counts.values()) == {1}, counts


def test_summarize_does_not_pool_episodes_of_different_configs(task_set, tmp_path):
    tasks, env = task_set
    out = tmp_path / "run.jsonl"
    for max_steps in (30, 2):
        config = RunConfig(agent="t2t/oracle", max_steps=max_steps, concurrency=4)
        run_rollouts(tasks[:3], env, config, out, progress=False)
    episodes = read_episodes(out)
    assert len({e.config_hash for e in episodes}) == 2
    try:
        table = summarize(episodes)
    except (ValueError, t2t.T2TError):
        return  # refusing to mix configurations is a fix too
    assert "pass^2" not in table.columns, "no configuration ran two trials"


# ----------------------------------------------------------------------------------- CLI bugs


@pytest.fixture
def run_argv(task_dir):
    return ("run", "--tasks", task_dir / "tasks.jsonl", "--agent", "t2t/oracle", "-q")


def test_run_out_is_a_folder(capsys, run_argv, tmp_path):
    code, _, err = _cli(capsys, *run_argv, "--limit", "1", "--out", tmp_path)
    assert _user_error(code, err), err[-300:]


def test_run_out_under_a_file(capsys, run_argv, tmp_path):
    (tmp_path / "afile").write_text("x")
    code, _, err = _cli(capsys, *run_argv, "--limit", "1", "--out", tmp_path / "afile" / "r.jsonl")
    assert _user_error(code, err), err[-300:]


def test_run_negative_limit(capsys, run_argv, tmp_path, task_set):
    out = tmp_path / "r.jsonl"
    code, _, err = _cli(capsys, *run_argv, "--variants", "base", "--limit", "-1", "--out", out)
    bases = len(_kind(task_set[0], "base"))
    ran_all = code == 0 and len(read_episodes(out)) == bases
    assert _user_error(code, err) or ran_all


def test_run_zero_limit_names_the_limit(capsys, run_argv, tmp_path):
    code, _, err = _cli(capsys, *run_argv, "--limit", "0", "--out", tmp_path / "r.jsonl")
    assert code == 2 and "--domain" not in err and "limit" in err, err


@pytest.fixture(scope="module")
def results_file(task_set, tmp_path_factory):
    tasks, env = task_set
    out = tmp_path_factory.mktemp("review-results") / "run.jsonl"
    run_rollouts(tasks[:2], env, RunConfig(agent="t2t/oracle"), out, progress=False)
    return out


def test_report_k_zero(capsys, results_file):
    code, _, err = _cli(capsys, "report", results_file, "--k", "0")
    assert _user_error(code, err), err[-300:]


def test_report_csv_in_a_missing_folder_creates_it(capsys, results_file, tmp_path):
    code, _, err = _cli(capsys, "report", results_file, "--csv", tmp_path / "no" / "t.csv")
    assert code == 0, err[-300:]
    assert (tmp_path / "no" / "t.csv").read_text().startswith("agent_model,")


def test_report_csv_is_a_folder(capsys, results_file, tmp_path):
    code, _, err = _cli(capsys, "report", results_file, "--csv", tmp_path)
    assert _user_error(code, err), err[-300:]


# ------------------------------------------------------------------ verified, now pinned down


def test_a_silent_agent_fails_every_task(task_set):
    """Greets, listens, says goodbye: no kind of task may pass (infeasible needs its read)."""
    tasks, env = task_set
    for task in tasks:
        reward = evaluate_episode(task, _conversation(task, [], closing="Goodbye."), env)
        assert reward.value == 0.0, (task.id, reward)


def test_a_generic_question_does_not_reveal_the_withheld_fact(task_set):
    """Only a 'which one' question earns the fact: identity questions get known_info only."""
    tasks, env = task_set
    for task in _kind(tasks, "ambiguous"):
        user = ScriptedUser(task, env.domain)
        messages = [Message(role="assistant", content="Hi! How can I help you today?")]
        for question in ("What is your name and zip code?", "Could you give me more details?"):
            messages.append(Message(role="user", content=asyncio.run(user.reply(messages)).text))
            messages.append(Message(role="assistant", content=question))
        messages.append(Message(role="user", content=asyncio.run(user.reply(messages)).text))
        calls = [m for m in messages if m.role == "user"]
        messages = [*messages, *_conversation(task, task.gold_calls)[2:]]
        reward = evaluate_episode(task, messages, env)
        assert reward.clarified_ok is False, (task.id, [m.content for m in calls])


def test_the_changing_user_switches_at_goal_a_own_write(task_set):
    """With earlier writes, the switch answers the confirmation of goal A's write, not theirs."""
    tasks, env = task_set
    multi = [t for t in _kind(tasks, "changing") if len(_writes(t, env)) >= 2]
    if not multi:
        pytest.skip("no changing task with earlier writes")
    for task in multi:
        goal_a = [ToolCall(**row) for row in task.variant.details["goal_a"]]
        last_a = [c for c in goal_a if env.domain.is_write(c.name)][-1]
        episode = _play(task, env)
        assert episode.reward.value == 1.0, task.id
        users = [i for i, m in enumerate(episode.messages) if m.role == "user"]
        switch = next(
            i
            for i in users[1:]
            if any(w in episode.messages[i].content.lower() for w in ("instead", "also want"))
        )
        asked = episode.messages[switch - 1].content
        assert asked == confirmation_text(last_a, episode.messages[: switch - 1], env.domain), (
            task.id
        )
        assert _play(task, env, agent="t2t/stubborn").reward.state_ok is False


def test_reckless_after_earlier_writes_fails_only_forbidden(task_set):
    tasks, env = task_set
    candidates = [t for t in _kind(tasks, "infeasible") if _writes(t, env)] or _kind(
        tasks, "infeasible"
    )
    task = candidates[0]
    reward = _play(task, env, agent="t2t/reckless").reward
    assert reward.forbidden_ok is False and reward.value == 0.0
    assert reward.required_ok is True
    assert _play(task, env).reward.value == 1.0


def test_a_task_whose_trials_all_broke_counts_but_is_not_scored(task_set, tmp_path):
    """Infra-only tasks stay in `tasks` and `infra_errors` and out of pass^k (not a 0)."""
    tasks, env = task_set
    out = tmp_path / "run.jsonl"
    run_rollouts(tasks[:2], env, RunConfig(agent="t2t/oracle", trials=2), out, progress=False)
    episodes = read_episodes(out)
    broken = [
        e.model_copy(update={"termination_reason": "infra_error", "reward": None})
        if e.task_id == tasks[1].id
        else e
        for e in episodes
    ]
    table = summarize(broken)
    row = table[table.variant == "all"].iloc[0]
    assert (row.tasks, row.episodes, row.infra_errors) == (2, 4, 2)
    assert row["pass^1"] == row["pass^2"] == 1.0


def test_run_user_mistakes_are_one_line(capsys, run_argv, tmp_path, task_dir):
    out = tmp_path / "r.jsonl"
    for extra in (
        ("--trials", "0"),
        ("--concurrency", "0"),
        ("--max-steps", "0"),
        ("--user", "t2t/orcle"),
    ):
        code, _, err = _cli(capsys, *run_argv, "--limit", "1", "--out", out, *extra)
        assert _user_error(code, err) and err.count("\n") == 1, (extra, err)
    argv = ("run", "--tasks", task_dir, "--agent", "t2t/oracle", "--out", out, "-q")
    code, _, err = _cli(capsys, *argv)
    assert _user_error(code, err) and "folder" in err
    assert not out.exists()


def test_the_tasks_file_as_out_is_refused_untouched(capsys, run_argv, task_dir):
    tasks_file = task_dir / "tasks.jsonl"
    before = tasks_file.read_bytes()
    code, _, err = _cli(capsys, *run_argv, "--limit", "1", "--out", tasks_file)
    assert _user_error(code, err)
    assert tasks_file.read_bytes() == before
    assert json.loads(before.splitlines()[0])["id"]
