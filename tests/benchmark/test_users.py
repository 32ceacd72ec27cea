"""Simulated users: the scripted one follows each variant's script turn by turn; the LLM user sees
the conversation from its side, knows the stop rules, and is kept from ending before the agent
acted."""

import asyncio
import re

import pytest
from conftest import shared_task_set_path

from t2t.benchmark.probes import confirmation_text
from t2t.benchmark.users import OUT_OF_SCOPE, STOP, TRANSFER, LLMUser, ScriptedUser, make_user
from t2t.core.schema import Message, ToolCall
from t2t.intents.ambiguous import CLARIFY_TEXT
from t2t.llm import register_provider, unregister_provider
from t2t.tasks.task_set import open_task_set

GREETING = "Hi! How can I help you today?"
IDENTITY_QUESTION = "Could you give me your email?"
ANYTHING_ELSE = "Your request is complete. Is there anything else I can help you with?"
KINDS = ("base", "ambiguous", "changing", "infeasible")
_PRONOUNS = {"you", "your", "yours", "i", "my", "mine", "are", "am"}  # "you are" → "I am"


@pytest.fixture(scope="module")
def task_set(tmp_path_factory):
    return open_task_set(shared_task_set_path(tmp_path_factory, 16))


def _of_kind(task_set, kind):
    tasks = [task for task in task_set[0] if task.variant.kind == kind]
    assert tasks, f"the fixture task set has no {kind} task"
    return tasks


def _writes(domain, rows):
    return [ToolCall(**row) for row in rows if domain.tools[row["name"]].mutates]


def _words(text):
    return set(re.findall(r"[\w#@-]+(?:\.[\w@-]+)*", text.lower())) - _PRONOUNS


class Dialogue:
    """The agent's side of a conversation with a scripted user."""

    def __init__(self, task, domain):
        self.user = make_user("scripted", task, domain)
        self.messages = [Message(role="assistant", content=GREETING)]
        self.opening = self._reply()

    def _reply(self):
        text = asyncio.run(self.user.reply(self.messages)).text
        self.messages.append(Message(role="user", content=text))
        return text

    def say(self, text):
        self.messages.append(Message(role="assistant", content=text))
        return self._reply()


# ------------------------------------------------------------------------------------ scripted


def test_make_user_picks_the_scripted_user_by_name(task_set):
    tasks, env = task_set
    assert isinstance(make_user("scripted", tasks[0], env.domain), ScriptedUser)
    assert isinstance(make_user("fake/x", tasks[0], env.domain, cache=False), LLMUser)


@pytest.mark.parametrize("kind", KINDS)
def test_opening_states_the_request_in_the_first_person(task_set, kind):
    task = _of_kind(task_set, kind)[0]
    opening = Dialogue(task, task_set[1].domain).opening
    reason = task.user_scenario.instructions.reason_for_call
    assert re.match(r"You (want|are calling|need|would like) to ", reason)  # second person...
    assert re.search(r"\bI (want|am calling|need|would like) to ", opening)  # ...first person
    assert not re.search(r"\byou(rs?)?\b", opening, re.I), opening
    assert _words(reason) <= _words(opening)
    assert STOP not in opening


@pytest.mark.parametrize("kind", KINDS)
def test_identity_question_gets_the_known_info_once(task_set, kind):
    task = _of_kind(task_set, kind)[0]
    identity = [str(v) for v in task.variant.details["identity"].values()]
    dialogue = Dialogue(task, task_set[1].domain)
    assert not any(value in dialogue.opening for value in identity)
    first = dialogue.say(IDENTITY_QUESTION)
    assert all(value in first for value in identity), first
    assert first.startswith("My ") and STOP not in first
    again = dialogue.say(IDENTITY_QUESTION)
    assert not any(value in again for value in identity), again
    assert STOP not in again


def test_ambiguous_withheld_fact_comes_only_when_asked_which_one(task_set):
    tasks, env = task_set
    for task in _of_kind(task_set, "ambiguous"):
        withheld = task.variant.details["withheld"]
        write = [c for c in task.gold_calls if env.domain.tools[c.name].mutates][-1]
        dialogue = Dialogue(task, env.domain)
        before = [
            dialogue.opening,
            dialogue.say(IDENTITY_QUESTION),
            dialogue.say(confirmation_text(write)),
            dialogue.say("Could you tell me more about what you need?"),
        ]
        assert not any(withheld in reply for reply in before), (task.id, before)
        revealed = dialogue.say(CLARIFY_TEXT)
        assert withheld in revealed and STOP not in revealed, task.id
        assert withheld not in dialogue.say(CLARIFY_TEXT), task.id  # told once


def test_changing_switch_comes_at_goal_a_write_confirmation_once(task_set):
    tasks, env = task_set
    seen = {"also": 0, "instead": 0, "several writes": 0}
    for task in _of_kind(task_set, "changing"):
        details = task.variant.details
        first, second = (stage["requests"] for stage in details["stages"][:2])
        extends = second[: len(first)] == first
        writes = _writes(env.domain, details["goal_a"])
        assert writes, task.id
        seen["also" if extends else "instead"] += 1
        seen["several writes"] += len(writes) > 1

        dialogue = Dialogue(task, env.domain)
        assert dialogue.say(IDENTITY_QUESTION).startswith("My ")  # not a trigger
        replies = [dialogue.say(confirmation_text(call)) for call in writes + writes]
        switch_at = len(writes) - 1
        switch = replies[switch_at]
        new_part = "; ".join(second[len(first) :] if extends else second)
        assert _words(new_part) <= _words(switch), (task.id, switch)
        if extends:
            assert "also" in switch and "instead" not in switch, switch
        else:
            assert "instead" in switch and "also" not in switch, switch
        others = replies[:switch_at] + replies[switch_at + 1 :]
        assert all(reply == "Yes, please go ahead." for reply in others), (task.id, replies)
    # the fixture covers each case but the added request, now on a tenth of changing tasks at
    # most (tests/intents/test_sound_variants.py plays those)
    assert seen["instead"] and seen["several writes"], seen


def test_infeasible_user_insists_once_then_stops(task_set):
    tasks, env = task_set
    for task in _of_kind(task_set, "infeasible"):
        refusal = (
            f"I'm sorry, but I cannot do that: {task.variant.details['reason']}. "
            "Is there anything else I can help you with?"
        )
        dialogue = Dialogue(task, env.domain)
        insisted = dialogue.say(refusal)
        assert STOP not in insisted and "?" in insisted, task.id
        assert STOP in dialogue.say(refusal), task.id


def test_feasible_user_accepts_a_refusal_at_once(task_set):
    task = _of_kind(task_set, "base")[0]
    dialogue = Dialogue(task, task_set[1].domain)
    assert STOP in dialogue.say("I'm sorry, but I cannot do that: it is against our policy.")


@pytest.mark.parametrize("kind", KINDS)
def test_anything_else_question_ends_the_conversation(task_set, kind):
    task = _of_kind(task_set, kind)[0]
    dialogue = Dialogue(task, task_set[1].domain)
    assert STOP not in dialogue.say(IDENTITY_QUESTION)
    assert dialogue.say(ANYTHING_ELSE).endswith(STOP)


def test_refusal_mentioning_proceed_still_gets_the_insistence(task_set):
    task = _of_kind(task_set, "infeasible")[0]
    dialogue = Dialogue(task, task_set[1].domain)
    reply = dialogue.say("I'm sorry, but I can't proceed with this: it is against our policy.")
    assert reply != "Yes, please go ahead."
    assert STOP not in reply  # the one insistence


def test_refusal_with_a_typographic_apostrophe_gets_the_insistence(task_set):
    task = _of_kind(task_set, "infeasible")[0]
    dialogue = Dialogue(task, task_set[1].domain)
    assert STOP not in dialogue.say("I\u2019m sorry, but I can\u2019t do that.")


@pytest.mark.parametrize(
    "question",
    ["Which email address is on your account?", "Could you specify your email address?"],
)
def test_identity_question_worded_with_which_does_not_reveal(task_set, question):
    task = _of_kind(task_set, "ambiguous")[0]
    dialogue = Dialogue(task, task_set[1].domain)
    assert task.variant.details["withheld"] not in dialogue.say(question)


# ----------------------------------------------------------------------------------------- LLM


class FakeModel:
    """An offline user model: answers from a script and records every request."""

    def __init__(self):
        self.script = []
        self.requests = []

    def __call__(self, request):
        self.requests.append(request)
        return self.script.pop(0) if self.script else STOP


@pytest.fixture
def fake_model():
    model = FakeModel()
    register_provider("fakeuser", model)
    yield model
    unregister_provider("fakeuser")


def _llm_user(task, domain):
    return make_user("fakeuser/x", task, domain, cache=False, max_retries=0)


def _reply(user, messages):
    return asyncio.run(user.reply(messages)).text


TOOL_CALL = ToolCall(id="call_0", name="get_user_details", arguments={"user_id": "x_1"})


def test_llm_user_system_prompt_holds_the_scenario_and_stop_rules(task_set, fake_model):
    task = _of_kind(task_set, "base")[0]
    instructions = task.user_scenario.instructions
    _reply(_llm_user(task, task_set[1].domain), [Message(role="assistant", content=GREETING)])
    system = fake_model.requests[0].messages[0]
    assert system.role == "system"
    assert instructions.reason_for_call in system.content
    assert instructions.known_info in system.content
    assert task.user_scenario.persona in system.content
    for token in (STOP, TRANSFER, OUT_OF_SCOPE):
        assert token in system.content


def test_llm_user_sees_the_conversation_with_roles_flipped(task_set, fake_model):
    task = _of_kind(task_set, "base")[0]
    fake_model.script = ["My email is a@b.c."]
    messages = [
        Message(role="assistant", content=GREETING),
        Message(role="user", content="I want my address changed."),
        Message(role="assistant", tool_calls=[TOOL_CALL]),
        Message(role="tool", content='{"user_id": "x_1"}', tool_call_id="call_0"),
        Message(role="assistant", content="Which email do you have?"),
    ]
    assert _reply(_llm_user(task, task_set[1].domain), messages) == "My email is a@b.c."
    (request,) = fake_model.requests
    assert [(m.role, m.content) for m in request.messages[1:]] == [
        ("user", GREETING),
        ("assistant", "I want my address changed."),
        ("user", "Which email do you have?"),
    ]


def test_llm_user_stopping_before_the_agent_acted_is_asked_again_once(task_set, fake_model):
    task = _of_kind(task_set, "base")[0]
    assert task.gold_calls
    user = _llm_user(task, task_set[1].domain)
    messages = [
        Message(role="assistant", content=GREETING),
        Message(role="user", content="I want my address changed."),
        Message(role="assistant", content="Sure, one moment."),
    ]
    fake_model.script = [STOP, STOP]
    assert STOP in _reply(user, messages)  # a second STOP is accepted
    first, second = fake_model.requests
    assert not any("not done anything" in (m.content or "") for m in first.messages)
    nudge = second.messages[-1]
    assert nudge.role == "system" and "not done anything" in nudge.content
    assert second.messages[:-1] == first.messages

    fake_model.requests.clear()
    fake_model.script = [STOP]
    assert STOP in _reply(user, messages)
    assert len(fake_model.requests) == 1  # the guard is spent


def test_llm_user_nudged_answer_replaces_the_early_stop(task_set, fake_model):
    task = _of_kind(task_set, "base")[0]
    fake_model.script = [STOP, "I still need my address changed."]
    messages = [Message(role="assistant", content=GREETING)]
    assert _reply(_llm_user(task, task_set[1].domain), messages) == (
        "I still need my address changed."
    )
    assert len(fake_model.requests) == 2


def test_llm_user_stop_after_a_tool_call_is_accepted_at_once(task_set, fake_model):
    task = _of_kind(task_set, "base")[0]
    messages = [
        Message(role="assistant", content=GREETING),
        Message(role="user", content="I want my address changed."),
        Message(role="assistant", tool_calls=[TOOL_CALL]),
        Message(role="tool", content="{}", tool_call_id="call_0"),
        Message(role="assistant", content="Done. Anything else?"),
    ]
    fake_model.script = [STOP]
    assert _reply(_llm_user(task, task_set[1].domain), messages) == STOP
    assert len(fake_model.requests) == 1


def test_llm_user_stop_is_accepted_when_the_task_needs_no_call(task_set, fake_model):
    task = _of_kind(task_set, "base")[0].model_copy(update={"evaluation_criteria": None})
    fake_model.script = [STOP]
    messages = [Message(role="assistant", content=GREETING)]
    assert _reply(_llm_user(task, task_set[1].domain), messages) == STOP
    assert len(fake_model.requests) == 1


def test_confirming_an_identity_detail_is_not_the_changing_trigger(task_set):
    task = _of_kind(task_set, "changing")[0]
    dialogue = Dialogue(task, task_set[1].domain)
    reply = dialogue.say("Can you confirm the email address on your account?")
    assert "instead" not in reply and "also want" not in reply
    assert reply != "Yes, please go ahead."
