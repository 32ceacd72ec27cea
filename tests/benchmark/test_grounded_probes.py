"""The probes act only on what the conversation showed, and speak as an agent does.

On a seeded set of each built-in domain: every oracle episode is grounded (each tool argument was
said by the user or shown by a tool result), the identity question comes before the first
lookup, confirmations name records in words (no JSON, no tool name), and a value nothing can
give is asked for once, then the probe goes on.
"""

import asyncio
import re

import pytest

import t2t
from t2t.benchmark.config import RunConfig
from t2t.benchmark.grounding import ungrounded_values
from t2t.benchmark.probes import confirmation_text
from t2t.benchmark.results import read_episodes
from t2t.benchmark.runner import run_rollouts
from t2t.benchmark.users import ScriptedUser
from t2t.benchmark.wording import ASK_PREFIX, IDENTITY_SUFFIX
from t2t.core.schema import Message, ToolCall
from t2t.intents.text import has_internal_id, mentions
from t2t.tasks.task_set import open_task_set

DOMAINS = ("retail", "airline", "banking")


@pytest.fixture(scope="module", params=DOMAINS)
def oracle_run(request, tmp_path_factory):
    """The oracle on 24 seeded tasks of one domain: (tasks, env, episodes)."""
    folder = tmp_path_factory.mktemp(f"grounded-{request.param}")
    t2t.generate_tasks(t2t.GenerateConfig(domain=request.param, n=24), folder, progress=False)
    tasks, env = open_task_set(folder / "tasks.jsonl")
    out = folder / "oracle.jsonl"
    run_rollouts(tasks, env, RunConfig(agent="t2t/oracle", concurrency=8), out, progress=False)
    return tasks, env, read_episodes(out)


def test_oracle_episodes_are_all_grounded(oracle_run):
    tasks, env, episodes = oracle_run
    assert len(episodes) == len(tasks)
    ungrounded = {
        e.task_id: ungrounded_values(e.messages, env.domain)
        for e in episodes
        if ungrounded_values(e.messages, env.domain)
    }
    assert ungrounded == {}
    assert all(e.reward.details["grounded"] is True for e in episodes)
    assert all(e.reward.value == 1.0 for e in episodes)


def test_the_probe_asks_for_identity_before_its_first_lookup(oracle_run):
    _, _, episodes = oracle_run
    for episode in episodes:
        messages = episode.messages
        first = next(i for i, m in enumerate(messages) if m.tool_calls)
        opening = next(m.content for m in messages if m.role == "user")
        values = [str(v) for v in messages[first].tool_calls[0].arguments.values()]
        assert not all(mentions(opening, v) for v in values), episode.task_id  # it had to ask
        asked = [
            i
            for i, m in enumerate(messages[:first])
            if m.role == "assistant" and (m.content or "").endswith(IDENTITY_SUFFIX)
        ]
        assert len(asked) == 1, episode.task_id
        answer = messages[asked[0] + 1]
        assert answer.role == "user"
        assert all(mentions(answer.content, v) for v in values), (episode.task_id, answer)


def test_confirmations_speak_in_words_not_json_or_tool_names(oracle_run):
    _, env, episodes = oracle_run
    names = [n for n in env.domain.tools if "_" in n]
    tool_name = re.compile(
        "|".join(re.escape(n) + "|" + re.escape(n.replace("_", " ")) for n in names)
    )
    confirmations = [
        m.content
        for e in episodes
        for m in e.messages
        if m.role == "assistant" and m.content and m.content.endswith("Shall I go ahead?")
    ]
    assert confirmations
    for text in confirmations:
        assert "{" not in text and '"' not in text, text
        assert not tool_name.search(text), text  # in the phrasebook's words, not the tool's
        assert not has_internal_id(text), text  # "your Visa ending in 1076", not its key
    said = [m.content for e in episodes for m in e.messages if m.role == "assistant" and m.content]
    assert not any("yes/no" in text or "I am about to run" in text for text in said)


def test_a_confirmation_names_the_records_the_tools_showed(retail):
    call = ToolCall(
        name="cancel_pending_order", arguments={"order_id": "#W1", "reason": "ordered by mistake"}
    )
    shown = Message(
        role="tool",
        content='{"order_id": "#W1", "user_id": "u_1", "items": '
        '[{"name": "Luggage Set", "item_id": "1"}, {"name": "Charger", "item_id": "2"}]}',
    )
    text = confirmation_text(call, [Message(role="user", content="Cancel #W1."), shown])
    assert text == (
        "I can cancel pending order #W1 — Luggage Set and Charger — with reason "
        "'ordered by mistake'. Shall I go ahead?"
    )
    assert confirmation_text(call) != text  # without the results the wording differs: tied


def test_the_scripted_user_says_yes_to_a_confirmation(oracle_run):
    tasks, env, _ = oracle_run
    task = next(t for t in tasks if t.variant.kind == "base")
    write = next(c for c in task.gold_calls if env.domain.is_write(c.name))
    user = ScriptedUser(task, env.domain)
    asyncio.run(user.reply([]))
    messages = [
        Message(role="user", content="Hi."),
        Message(role="assistant", content=confirmation_text(write)),
    ]
    assert asyncio.run(user.reply(messages)).text.startswith("Yes")


def test_a_value_nothing_gives_is_asked_for_once_then_used(tmp_path):
    """The user cannot give an order number it never had: one question, then the call."""
    folder = tmp_path / "tasks"
    t2t.generate_tasks(t2t.GenerateConfig(domain="retail", n=8), folder, progress=False)
    tasks, env = open_task_set(folder / "tasks.jsonl")
    base = next(
        t
        for t in tasks
        if t.variant.kind == "base" and any("order_id" in c.arguments for c in t.gold_calls)
    )
    actions = [
        a.model_copy(update={"arguments": {**a.arguments, "order_id": "#W0000001"}})
        if "order_id" in a.arguments
        else a
        for a in base.evaluation_criteria.actions
    ]
    criteria = base.evaluation_criteria.model_copy(update={"actions": actions})
    task = base.model_copy(update={"id": "made-up", "evaluation_criteria": criteria})
    out = tmp_path / "run.jsonl"
    run_rollouts([task], env, RunConfig(agent="t2t/oracle"), out, progress=False)
    (episode,) = read_episodes(out)
    asks = [
        m.content
        for m in episode.messages
        if m.role == "assistant" and (m.content or "").startswith(ASK_PREFIX)
    ]
    assert sum("order id" in a for a in asks) == 1, asks
    assert episode.termination_reason != "max_steps"
    assert any(c.arguments.get("order_id") == "#W0000001" for c in episode.tool_calls)
    assert episode.reward.details["grounded"] is False
    assert "#W0000001" in {str(u["value"]) for u in episode.reward.details["ungrounded"]}
