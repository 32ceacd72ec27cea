"""The data model: JSON round trips, and validation errors that name the bad field."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from t2t import Episode, Message, Reward, Task, ToolCall, ToolResult, Trajectory

TASK = {
    "id": "7",
    "domain": "retail",
    "user_scenario": {
        "persona": "terse",
        "instructions": {
            "domain": "retail",
            "reason_for_call": "cancel #W1",
            "known_info": "You are Ann Lee, zip 12345.",
            "unknown_info": None,
            "task_instructions": "Insist once.",
        },
    },
    "evaluation_criteria": {
        "actions": [
            {
                "action_id": "a",
                "name": "cancel_pending_order",
                "arguments": {"order_id": "#W1", "reason": "no longer needed"},
            }
        ],
        "communicate_info": ["12.5"],
    },
    "variant": {"kind": "infeasible", "parent_id": "3", "details": {"rule": "cancel_only_pending"}},
    "provenance": {"generator": "graph", "seed": 4, "judge_scores": {"realism": 8.0}},
}


def test_task_round_trips_through_json():
    task = Task.model_validate(TASK)
    assert Task.model_validate_json(task.model_dump_json()) == task
    assert task.gold_calls == [
        ToolCall(
            name="cancel_pending_order",
            arguments={"order_id": "#W1", "reason": "no longer needed"},
            id="a",
        )
    ]
    assert task.variant.kind == "infeasible" and task.provenance.judge_scores == {"realism": 8.0}


def test_episode_round_trips_and_lists_tool_calls():
    call = ToolCall(name="get_order_details", arguments={"order_id": "#W1"}, id="c1")
    episode = Episode(
        task_id="7",
        variant="ambiguous",
        agent_model="t2t/oracle",
        user_model="scripted",
        trial=2,
        messages=[
            Message(role="user", content="hi"),
            Message(role="assistant", tool_calls=[call]),
            Message(role="tool", content="{}", tool_call_id="c1"),
        ],
        termination_reason="user_stop",
        reward=Reward(value=0.0, state_ok=True, clarified_ok=False, details={"why": "no question"}),
        cost_usd=0.01,
        duration_s=1.5,
    )
    again = Episode.model_validate_json(episode.model_dump_json())
    assert again == episode and again.tool_calls == [call] and again.schema_version == 1


def test_trajectory_keeps_only_successful_calls_as_gold():
    calls = [ToolCall(name="a"), ToolCall(name="b"), ToolCall(name="c")]
    results = [
        ToolResult(name="a", ok=True, content="1"),
        ToolResult(name="b", ok=False, content="Error: x", error="x"),
        ToolResult(name="c", ok=True, content="2"),
    ]
    trajectory = Trajectory(
        id="t", domain="retail", seed=1, user_id="u", calls=calls, results=results
    )
    assert [c.name for c in trajectory.successful_calls] == ["a", "c"]
    assert Trajectory.model_validate_json(trajectory.model_dump_json()) == trajectory


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"colour": "red"}, "colour"),
        ({"variant": {"kind": "confusing"}}, "variant.kind"),
        ({"user_scenario": {"instructions": {"domain": "retail"}}}, "user_scenario.instructions"),
        (
            {"evaluation_criteria": {"actions": [{"name": "x"}]}},
            "evaluation_criteria.actions.0.action_id",
        ),
    ],
)
def test_invalid_fields_are_named(patch, field):
    with pytest.raises(ValidationError) as info:
        Task.model_validate({**TASK, **patch})
    locations = [".".join(map(str, e["loc"])) for e in info.value.errors()]
    assert any(loc.startswith(field) for loc in locations), locations


def test_reward_and_message_reject_unknown_fields():
    with pytest.raises(ValidationError, match="stateok"):
        Reward.model_validate({"value": 1.0, "stateok": True})
    with pytest.raises(ValidationError, match="role"):
        Message.model_validate({"role": "robot", "content": "x"})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)


@given(
    st.dictionaries(st.text(min_size=1, max_size=8), json_values, max_size=4), st.text(max_size=20)
)
def test_tool_calls_round_trip_any_json_arguments(arguments, name):
    call = ToolCall(name=name, arguments=arguments, id="x")
    assert ToolCall.model_validate_json(call.model_dump_json()) == call
