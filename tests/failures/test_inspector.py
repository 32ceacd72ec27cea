"""The trajectory inspector, driven only through its widgets' values, on real probe episodes."""

from html import escape

import pandas as pd
import pytest
from conftest import shared_task_set_path

from t2t.benchmark.config import RunConfig
from t2t.benchmark.results import read_episodes
from t2t.benchmark.runner import run_rollouts
from t2t.benchmark.scoring import score_episode
from t2t.core.errors import DataError
from t2t.core.replay import check_episode_state
from t2t.core.schema import Episode, Message, ToolCall
from t2t.failures import inspector as widgets
from t2t.failures.inspector import TrajectoryInspector
from t2t.failures.taxonomy import FAILURE_TYPES, episode_frame
from t2t.tasks.task_set import open_task_set

PROBES = ("oracle", "eager", "stubborn", "reckless")
KINDS = ("base", "ambiguous", "changing", "infeasible")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """4 probes × 2 tasks of each kind × 2 trials: (episodes, tasks, env, frame)."""
    tasks, env = open_task_set(shared_task_set_path(tmp_path_factory, 16))
    chosen = [t for kind in KINDS for t in [t for t in tasks if t.variant.kind == kind][:2]]
    assert len(chosen) == 8, "the shared task set lacks two tasks of some kind"
    out = tmp_path_factory.mktemp("widgets") / "runs.jsonl"
    for probe in PROBES:
        config = RunConfig(agent=f"t2t/{probe}", trials=2, concurrency=16)
        run_rollouts(chosen, env, config, out, progress=False)
    episodes = read_episodes(out)
    return episodes, tasks, env, episode_frame(episodes, tasks, env)


@pytest.fixture
def inspector(run):
    episodes, tasks, env, frame = run
    return TrajectoryInspector(episodes, tasks, env, frame=frame)


def where(episodes, **fields):
    """Positions of the episodes whose attributes equal `fields` (computed without the frame)."""
    return [i for i, e in enumerate(episodes) if all(getattr(e, k) == v for k, v in fields.items())]


def first_user_text(episode):
    return next(m.content for m in episode.messages if m.role == "user" and m.content)


def test_everything_is_listed_at_first_and_the_first_episode_shown(run, inspector):
    episodes = run[0]
    assert (
        inspector.count.value == f"{len(episodes)} of {len(episodes)} episodes match (showing 64)"
    )
    assert inspector.shown == list(range(len(episodes))) and inspector.selected == 0
    assert inspector.episode_list.value == 0
    assert escape(first_user_text(episodes[0])) in inspector.conversation.value
    assert inspector.model.options == ("all", *sorted(f"t2t/{p}" for p in PROBES))
    assert inspector.variant.options == ("all", *KINDS)
    assert inspector.outcome.options == ("all", "pass", "fail", "infra_error")
    failures = inspector.failure.options
    assert failures[0] == "all" and set(failures[1:]) <= set(FAILURE_TYPES)
    assert {"no_clarification", "ignored_change", "policy_violation"} <= set(failures)
    classes = {
        "model": "t2t-filter-model",
        "variant": "t2t-filter-variant",
        "outcome": "t2t-filter-outcome",
        "failure": "t2t-filter-failure",
        "search": "t2t-search",
        "episode_list": "t2t-episode-list",
        "count": "t2t-count",
        "conversation": "t2t-conversation",
        "calls": "t2t-calls",
        "db_diff": "t2t-db-diff",
        "reward": "t2t-reward",
    }
    for name, css in classes.items():
        assert css in getattr(inspector, name)._dom_classes, name
    assert "t2t-inspector" in inspector.widget._dom_classes  # what the browser test looks for
    bundle = inspector._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == (
        inspector.widget.model_id
    )


def test_outcome_filter_lists_exactly_the_failures(run, inspector):
    episodes = run[0]
    failing = [i for i, e in enumerate(episodes) if e.reward.value != 1.0]
    assert 0 < len(failing) < len(episodes)
    inspector.outcome.value = "fail"
    assert inspector.shown == failing
    assert list(inspector.filtered.index) == failing
    assert set(inspector.filtered["outcome"]) == {"fail"}
    n = len(failing)
    assert inspector.count.value == f"{n} of {len(episodes)} episodes match (showing {n})"
    assert inspector.selected == failing[0] == inspector.episode_list.value
    assert all("✗" in label for label, _ in inspector.episode_list.options)
    inspector.outcome.value = "pass"
    assert inspector.shown == [i for i in range(len(episodes)) if i not in failing]
    assert all(label.endswith("✓") for label, _ in inspector.episode_list.options)


def test_eager_on_ambiguous_tasks_fails_for_want_of_clarification(run, inspector):
    episodes = run[0]
    inspector.model.value = "t2t/eager"
    inspector.variant.value = "ambiguous"
    expected = where(episodes, agent_model="t2t/eager", variant="ambiguous")
    assert len(expected) == 4 and inspector.shown == expected
    assert set(inspector.filtered["failure"]) == {"no_clarification"}
    for (label, _), episode in zip(
        inspector.episode_list.options, [episodes[i] for i in expected], strict=True
    ):
        trial = f"trial {episode.trial}"
        assert label == f"{episode.task_id} · ambiguous · t2t/eager · {trial} · ✗ no_clarification"
    inspector.failure.value = "no_clarification"
    assert inspector.shown == expected
    assert "✗" in inspector.reward.value and "no_clarification" in inspector.reward.value
    assert FAILURE_TYPES["no_clarification"] in inspector.reward.value
    assert "<tr><td>clarified_ok</td><td>✗</td></tr>" in inspector.reward.value
    inspector.failure.value = "ignored_change"  # stubborn's flaw, not eager's
    assert inspector.shown == [] and inspector.selected is None
    assert inspector.episode_list.options == () and inspector.episode_list.value is None
    assert inspector.count.value == f"0 of {len(episodes)} episodes match (showing 0)"
    assert "no episode matches" in inspector.conversation.value
    assert "no episode matches" in inspector.db_diff.value


def test_failure_filter_matches_any_listed_type_not_only_the_first(run, inspector):
    frame = run[3]
    secondary = frame[frame["failures"].str.contains("wrong_arguments")]
    assert (secondary["failure"] != "wrong_arguments").any(), "no episode to tell the two apart"
    inspector.failure.value = "wrong_arguments"
    assert inspector.shown == list(secondary.index)


def test_search_narrows_by_task_id_ignoring_case(run, inspector):
    episodes = run[0]
    task_id = episodes[-1].task_id
    fragment = task_id[-12:].upper()
    inspector.search.value = fragment
    expected = [i for i, e in enumerate(episodes) if fragment.lower() in e.task_id.lower()]
    assert 0 < len(expected) < len(episodes) and inspector.shown == expected
    assert all(fragment.lower() in label.lower() for label, _ in inspector.episode_list.options)
    inspector.search.value = ""
    assert len(inspector.shown) == len(episodes)


def test_selecting_an_episode_shows_its_conversation_calls_and_reward(run, inspector):
    episodes, tasks, _, _ = run
    index = where(episodes, agent_model="t2t/eager", variant="ambiguous")[1]
    episode = episodes[index]
    task = next(t for t in tasks if t.id == episode.task_id)
    assert inspector.selected != index
    inspector.episode_list.value = index
    assert inspector.selected == index
    assert escape(first_user_text(episode)) in inspector.conversation.value
    assert "t2t-turn t2t-tool" in inspector.conversation.value
    for call in task.gold_calls:
        assert f"<code>{call.name}</code>" in inspector.calls.value
    assert "✗ not made" in inspector.calls.value  # the guessed write is not gold's
    assert "· not in gold" in inspector.calls.value
    assert "<b>reward 0</b>" in inspector.reward.value


def test_db_diff_names_the_wrong_record_and_says_when_states_match(run, inspector):
    episodes, tasks, env, _ = run
    by_id = {t.id: t for t in tasks}
    for index in where(episodes, agent_model="t2t/stubborn", variant="changing"):
        episode = episodes[index]
        changes = check_episode_state(episode, by_id[episode.task_id], env).changes
        assert changes, "stubborn reached the gold state of a changing task"
        inspector.select(index)
        for change in changes:
            assert f"<code>{change.table}</code> · <code>{escape(change.key)}</code>" in (
                inspector.db_diff.value
            )
        assert "<th>gold</th><th>agent</th>" in inspector.db_diff.value
    inspector.select(where(episodes, agent_model="t2t/oracle", variant="changing")[0])
    assert "matches the gold state" in inspector.db_diff.value
    assert "<code>orders</code>" not in inspector.db_diff.value


def test_select_shows_a_hidden_episode_and_rejects_unknown_rows(run, inspector):
    episodes = run[0]
    inspector.outcome.value = "fail"
    hidden = where(episodes, agent_model="t2t/oracle")[3]
    inspector.select(hidden)
    assert inspector.selected == hidden and inspector.episode_list.value is None
    assert escape(first_user_text(episodes[hidden])) in inspector.conversation.value
    with pytest.raises(IndexError):
        inspector.select(len(episodes))


def test_failed_calls_are_marked_and_text_is_escaped(run):
    episodes, tasks, env, _ = run
    by_id = {t.id: t for t in tasks}
    oracle = episodes[where(episodes, agent_model="t2t/oracle", variant="base")[0]]
    bad = ToolCall(name="get_order_details", arguments={"order_id": "#W0"}, id="bad")
    messages = [
        Message(role="user", content="<script>alert(1)</script>"),
        *oracle.messages,
        Message(role="assistant", tool_calls=[bad]),
        Message(role="tool", tool_call_id="bad", content="Error: order not found"),
    ]
    task = by_id[oracle.task_id]
    episode = score_episode(task, oracle.model_copy(update={"messages": messages}), env)
    assert episode.reward.details["failed_calls"] == 1
    shown = TrajectoryInspector([episode], tasks, env)
    assert "&lt;script&gt;" in shown.conversation.value
    assert "<script>" not in shown.conversation.value
    assert "✗ failed:" in shown.calls.value and "1 failed" in shown.calls.value
    assert "matches the gold state" in shown.db_diff.value  # a failed read changes nothing


def test_an_infra_error_is_listed_apart_and_has_no_reward(run):
    episodes, tasks, env, _ = run
    broken = Episode(
        task_id=episodes[0].task_id,
        agent_model="t2t/oracle",
        user_model="scripted",
        termination_reason="infra_error",
        error="rate limited",
    )
    shown = TrajectoryInspector([episodes[0], broken], tasks, env)
    shown.outcome.value = "infra_error"
    assert shown.shown == [1] and shown.episode_list.options[0][0].endswith("✗ infra_error")
    assert "no reward" in shown.reward.value and "rate limited" in shown.reward.value
    assert FAILURE_TYPES["infra_error"] in shown.reward.value


def test_a_subset_of_the_frame_lists_only_its_rows(run):
    episodes, tasks, env, frame = run
    eager = frame[frame["agent_model"] == "t2t/eager"]
    shown = TrajectoryInspector(episodes, tasks, env, frame=eager, page_size=5)
    assert shown.model.options == ("all", "t2t/eager")
    assert shown.shown == list(eager.index[:5]) and shown.selected == eager.index[0]
    assert shown.count.value == f"{len(eager)} of {len(eager)} episodes match (showing 5)"
    first = episodes[eager.index[0]]
    assert escape(first_user_text(first)) in shown.conversation.value


def test_no_episodes_is_an_empty_inspector(run):
    _, tasks, env, _ = run
    empty = TrajectoryInspector([], tasks, env)
    assert empty.count.value == "no episodes" and empty.shown == []
    assert "no episodes" in empty.conversation.value and empty.filtered.empty
    empty.outcome.value = "fail"
    empty.search.value = "x"
    assert empty.shown == [] and empty.selected is None


def test_bad_input_is_a_data_error(run):
    episodes, tasks, env, frame = run
    others = [t for t in tasks if t.id != episodes[0].task_id]
    with pytest.raises(DataError, match="not in the task set"):
        TrajectoryInspector(episodes, others, env)
    with pytest.raises(DataError, match="not in the task set"):
        TrajectoryInspector(episodes, others, env, frame=frame)
    with pytest.raises(DataError, match="labelled by position"):
        TrajectoryInspector(episodes[:10], tasks, env, frame=frame)
    with pytest.raises(DataError, match="lacks columns"):
        TrajectoryInspector(episodes, tasks, env, frame=frame.drop(columns="failures"))
    with pytest.raises(ValueError, match="page_size"):
        TrajectoryInspector(episodes, tasks, env, frame=frame, page_size=0)


def test_ten_thousand_episodes_filter_by_masks_and_render_one(run, monkeypatch):
    episodes, tasks, env, frame = run
    copies = -(-10_000 // len(episodes))
    many = [e.model_copy(update={"trial": c}) for c in range(copies) for e in episodes][:10_000]
    big = pd.concat([frame] * copies, ignore_index=True).iloc[:10_000].copy()
    big["trial"] = [e.trial for e in many]

    def no_frame(*args, **kwargs):
        raise AssertionError("the frame given must be used, not recomputed")

    rendered, replays = [], []
    render, replay = TrajectoryInspector._render, widgets.replay_calls
    monkeypatch.setattr(widgets, "episode_frame", no_frame)
    monkeypatch.setattr(
        TrajectoryInspector, "_render", lambda self, i: (rendered.append(i), render(self, i))
    )
    monkeypatch.setattr(widgets, "replay_calls", lambda *a: (replays.append(1), replay(*a))[1])
    inspector = TrajectoryInspector(many, tasks, env, frame=big, page_size=50)
    assert rendered == [0] and len(replays) == 2
    assert inspector.count.value == "10000 of 10000 episodes match (showing 50)"
    assert len(inspector.episode_list.options) == 50

    failing = sum(e.reward.value != 1.0 for e in many)
    inspector.outcome.value = "fail"
    assert len(inspector.filtered) == failing
    assert inspector.count.value == f"{failing} of 10000 episodes match (showing 50)"
    inspector.model.value = "t2t/eager"
    inspector.variant.value = "ambiguous"
    eager = where(many, agent_model="t2t/eager", variant="ambiguous")
    assert list(inspector.filtered.index) == eager and inspector.shown == eager[:50]
    assert inspector.count.value == f"{len(eager)} of 10000 episodes match (showing 50)"
    inspector.search.value = "NO SUCH TASK"
    assert inspector.filtered.empty
    # one render per change of the shown episode, each replaying one episode and its gold
    first_failure = int(big.index[big["outcome"] == "fail"][0])
    assert rendered == list(dict.fromkeys([0, first_failure, eager[0]]))
    assert len(replays) == 2 * len(rendered)
    user_turns = sum(m.role == "user" for m in many[eager[0]].messages)
    inspector.search.value = ""
    assert inspector.conversation.value.count("t2t-turn t2t-user") == user_turns
