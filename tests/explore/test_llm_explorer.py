"""The LLM explorer, driven by a recorded retail exploration replayed through a custom provider.

The recording (tests/fixtures/llm_exploration_retail.json) is the list of assistant replies a model
gave on the small seeded retail DB. `record_exploration` below is the script that wrote it; a test
checks they still agree, so a change to the DB generator shows up here rather than as odd
failures. Re-record with: python tests/explore/test_llm_explorer.py
"""

import asyncio
import json
from pathlib import Path

import pytest

import t2t
from t2t.core.replay import replay_calls
from t2t.core.schema import Message, ToolCall, Trajectory
from t2t.explore.llm_explorer import (
    MIN_JUSTIFICATION_CHARS,
    exploration_prompt,
    explore_with_llm,
    explore_with_llm_async,
    sample_tools,
)
from t2t.llm import ProviderRequest, register_provider, unregister_provider

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "llm_exploration_retail.json"
DB_SEED, DB_SCALE = 0, "small"
JUSTIFICATION = (
    "The policy lets me cancel an order only while its status is 'pending', for the reason "
    "'no longer needed' or 'ordered by mistake'; the customer no longer needs this order, so I "
    "cancel it."
)


def _db(domain):
    return domain.generate_db(seed=DB_SEED, **domain.scales[DB_SCALE])


def _reply(content=None, *calls):
    return {
        "content": content,
        "tool_calls": [{"id": cid, "name": name, "arguments": args} for cid, name, args in calls],
    }


def record_exploration(db):
    """The scripted model: authenticate, read, one malformed call, two refused writes, a cancel."""
    user_id = next(
        uid
        for uid in sorted(db["users"])
        if {"pending", "delivered"}
        <= {db["orders"][o]["status"] for o in db["users"][uid]["orders"]}
    )
    user = db["users"][user_id]
    pending = next(o for o in user["orders"] if db["orders"][o]["status"] == "pending")
    delivered = next(o for o in user["orders"] if db["orders"][o]["status"] == "delivered")

    def args(**kw):
        return json.dumps(kw)

    cancel = "cancel_pending_order"
    return {
        "db": {"domain": "retail", "seed": DB_SEED, "scale": DB_SCALE},
        "user_id": user_id,
        "identity": {"email": user["email"]},
        "pending_order": pending,
        "delivered_order": delivered,
        "responses": [
            _reply(None, ("c1", "find_user_id_by_email", args(email=user["email"]))),
            _reply(None, ("c2", "get_user_details", args(user_id=user_id))),
            _reply(
                "Let me look at two of the orders.",
                ("c3", "get_order_details", args(order_id=pending)),
                ("c4", "get_order_details", args(order_id=delivered)),
            ),
            _reply(None, ("c5", "get_order_details", '{"order_id": "' + pending)),  # bad JSON
            _reply(None, ("c6", cancel, args(order_id=pending, reason="no longer needed"))),
            _reply(
                JUSTIFICATION, ("c7", cancel, args(order_id=delivered, reason="no longer needed"))
            ),
            _reply(
                JUSTIFICATION, ("c8", cancel, args(order_id=pending, reason="no longer needed"))
            ),
            _reply(f"I cancelled order {pending}; the refund goes to the original payment method."),
        ],
    }


def _message(reply):
    calls = []
    for call in reply["tool_calls"]:
        try:
            arguments = json.loads(call["arguments"])
        except ValueError:
            arguments = {"__raw__": call["arguments"]}
        calls.append(ToolCall(id=call["id"], name=call["name"], arguments=arguments))
    return Message(role="assistant", content=reply["content"], tool_calls=calls or None)


class Replay:
    """Answers with the recorded reply for the current turn (= assistant messages so far)."""

    def __init__(self, responses):
        self.responses = responses
        self.requests: list[ProviderRequest] = []

    def __call__(self, request: ProviderRequest) -> Message:
        self.requests.append(request)
        turn = sum(1 for m in request.messages if m.role == "assistant")
        return _message(self.responses[turn])


@pytest.fixture(scope="module")
def recording():
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def seeded_env(retail):
    return retail.environment(_db(retail))


@pytest.fixture
def replay(recording):
    handler = Replay(recording["responses"])
    register_provider("replay_explore", handler)
    yield handler
    unregister_provider("replay_explore")


def _explore(retail, env, recording, *, model="replay_explore/recorded", **kw):
    options = {"seed": 0, "tool_subset_size": len(retail.tools), **kw}
    return explore_with_llm(
        retail,
        env,
        model=model,
        user_id=recording["user_id"],
        identity=recording["identity"],
        **options,
    )


def _explore_with(handler, name, retail, env, recording, **kw):
    """Explore against `handler` registered as provider `name`, then forget it."""
    register_provider(name, handler)
    try:
        return _explore(retail, env, recording, model=f"{name}/x", **kw)
    finally:
        unregister_provider(name)


def test_fixture_matches_the_seeded_db(retail, recording):
    assert recording["db"] == {"domain": "retail", "seed": DB_SEED, "scale": DB_SCALE}
    assert recording == record_exploration(_db(retail)), (
        "the seeded retail DB changed: re-record with python tests/explore/test_llm_explorer.py"
    )


def test_recorded_exploration_keeps_only_good_calls(retail, seeded_env, recording, replay):
    before = seeded_env.state_hash()
    trajectory = _explore(retail, seeded_env, recording)
    pending, delivered = recording["pending_order"], recording["delivered_order"]

    assert trajectory.calls[0].name == "find_user_id_by_email"
    assert trajectory.results[0].ok and trajectory.results[0].content == recording["user_id"]
    assert len(replay.requests) == len(recording["responses"])  # stopped at the text answer
    assert [c.id for c in trajectory.calls] == [f"c{i}" for i in range(1, 9)]
    results = dict(zip([c.id for c in trajectory.calls], trajectory.results, strict=True))

    assert not results["c5"].ok and "not a JSON object" in results["c5"].content  # malformed
    assert not results["c6"].ok and "justification" in results["c6"].content  # unjustified write
    assert not results["c7"].ok
    assert results["c7"].content.startswith("Policy rule cancel_only_pending:")
    assert delivered in results["c7"].content
    assert results["c8"].ok and json.loads(results["c8"].content)["status"] == "cancelled"

    good = trajectory.successful_calls
    assert [c.id for c in good] == ["c1", "c2", "c3", "c4", "c8"]
    assert good[-1] == ToolCall(
        id="c8",
        name="cancel_pending_order",
        arguments={"order_id": pending, "reason": "no longer needed"},
    )
    _, replayed = replay_calls(seeded_env, good, check_rules=True)
    assert replayed.ok and not replayed.violations
    assert seeded_env.state_hash() == before  # the explorer worked on a fork

    # the model saw every refusal and went on; the justification is in the chat
    tool_replies = {m.tool_call_id: m.content for m in trajectory.messages if m.role == "tool"}
    pairs = zip(trajectory.calls, trajectory.results, strict=True)
    assert tool_replies == {c.id: r.content for c, r in pairs}
    seen = {m.tool_call_id for m in replay.requests[-1].messages if m.role == "tool"}
    assert seen == {f"c{i}" for i in range(1, 9)}
    assert any(m.role == "assistant" and m.content == JUSTIFICATION for m in trajectory.messages)
    assert (
        trajectory.messages[0].role == "system"
        and retail.policy.strip() in trajectory.messages[0].content
    )
    assert recording["identity"]["email"] in trajectory.messages[1].content
    assert recording["user_id"] not in trajectory.messages[1].content  # found by authenticating
    assert Trajectory.model_validate_json(trajectory.model_dump_json()) == trajectory


def test_step_budget_bounds_model_calls(retail, seeded_env, recording, replay):
    trajectory = _explore(retail, seeded_env, recording, step_budget=3)
    assert len(replay.requests) == 3
    assert [c.id for c in trajectory.calls] == ["c1", "c2", "c3", "c4"]


def test_justification_may_come_one_message_before_the_write(retail, seeded_env, recording):
    pending = recording["pending_order"]
    cancel = json.dumps({"order_id": pending, "reason": "ordered by mistake"})
    responses = [
        _reply(JUSTIFICATION, ("r1", "get_order_details", json.dumps({"order_id": pending}))),
        _reply(None, ("w1", "cancel_pending_order", cancel)),
        _reply(None, ("w2", "cancel_pending_order", cancel)),  # the justification was used up
        _reply("Done."),
    ]
    trajectory = _explore_with(
        Replay(responses), "replay_justify", retail, seeded_env, recording, tool_subset_size=10
    )
    ok = {c.id: r.ok for c, r in zip(trajectory.calls, trajectory.results, strict=True)}
    assert ok == {"r1": True, "w1": True, "w2": False}
    assert "justification" in trajectory.results[-1].content


def test_unknown_and_unoffered_tools_are_tool_errors(retail, seeded_env, recording):
    offered = sample_tools(retail, seed=5, size=1)
    missing = next(n for n, t in retail.tools.items() if t.kind == "write" and n not in offered)
    responses = [
        _reply(None, ("u1", "launch_rocket", "{}")),
        _reply(JUSTIFICATION, ("u2", missing, "{}")),
        _reply("Nothing else to do."),
    ]
    handler = Replay(responses)
    trajectory = _explore_with(
        handler, "replay_unknown", retail, seeded_env, recording, seed=5, tool_subset_size=1
    )
    assert [r.ok for r in trajectory.results] == [False, False]
    assert trajectory.results[0].content == "Error: Tool 'launch_rocket' not found."
    assert trajectory.results[1].content == f"Error: Tool '{missing}' not found."
    assert {t["function"]["name"] for t in handler.requests[0].tools} == set(offered)


def test_tool_subset_is_all_reads_plus_sampled_writes(retail):
    reads = {n for n, t in retail.tools.items() if t.kind == "read"}
    writes = {n for n, t in retail.tools.items() if t.kind == "write"}
    subsets = {seed: sample_tools(retail, seed=seed, size=2) for seed in range(20)}
    for subset in subsets.values():
        assert reads <= set(subset) and len(set(subset) & writes) == 2
        assert not set(subset) - reads - writes  # no generic tools
    assert subsets[3] == sample_tools(retail, seed=3, size=2)
    assert len({tuple(s) for s in subsets.values()}) > 1
    assert set(sample_tools(retail, seed=0, size=99)) == reads | writes


def test_prompt_shows_policy_instructions_and_at_most_two_examples(retail):
    examples = [
        Trajectory(
            id=f"ex{i}",
            domain="retail",
            seed=i,
            user_id="u",
            calls=[ToolCall(name="get_user_details", arguments={"user_id": f"user_{i}"})],
        )
        for i in range(4)
    ]
    prompt = exploration_prompt(retail, examples=examples)
    assert prompt.startswith(retail.policy.strip())
    assert "justification" in prompt and "Authenticate" in prompt
    assert prompt.count("# Example exploration") == 2
    assert 'get_user_details({"user_id": "user_' in prompt
    assert MIN_JUSTIFICATION_CHARS > 0


def test_async_twin_and_sync_inside_a_running_loop(retail, seeded_env, recording, replay):
    async def both():
        first = await explore_with_llm_async(
            retail,
            seeded_env,
            model="replay_explore/recorded",
            user_id=recording["user_id"],
            identity=recording["identity"],
            seed=0,
            tool_subset_size=len(retail.tools),
        )
        return first, _explore(retail, seeded_env, recording)  # sync call under a running loop

    first, second = asyncio.run(both())
    assert first.successful_calls[-1].name == "cancel_pending_order"
    assert second.calls == first.calls and second.results == first.results


if __name__ == "__main__":
    domain = t2t.load_domain("retail")
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    FIXTURE.write_text(
        json.dumps(record_exploration(_db(domain)), indent=1, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
