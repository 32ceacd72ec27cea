"""The LLM rewrite keeps every value or falls back; the judge's scores are parsed strictly."""

import json

import pytest

from t2t.core.errors import ModelCallError
from t2t.core.schema import (
    Action,
    EvaluationCriteria,
    Provenance,
    Task,
    ToolCall,
    ToolResult,
    Trajectory,
    UserInstructions,
    UserScenario,
    Variant,
)
from t2t.llm import register_provider, unregister_provider
from t2t.tasks.rewrite import (
    JUDGE_CRITERIA,
    judge_task,
    keep_by_judge,
    missing_values,
    parse_judge_scores,
    rewrite_task,
    scenario_fields,
    with_judge_scores,
)

EMAIL, ORDER = "aimee.young7680@example.com", "#W2049817"


def _task(instructions=None):
    instructions = instructions or UserInstructions(
        domain="retail",
        reason_for_call=f"You want to cancel order {ORDER}.",
        known_info=f"Your email is {EMAIL}. The order id is {ORDER}.",
        unknown_info="You do not remember which card paid for it.",
        task_instructions="Ask to cancel it with the reason 'no longer needed'.",
    )
    return Task(
        id="retail-base-1",
        domain="retail",
        user_scenario=UserScenario(persona="A busy nurse.", instructions=instructions),
        evaluation_criteria=EvaluationCriteria(
            actions=[
                Action(action_id="0", name="find_user_id_by_email", arguments={"email": EMAIL}),
                Action(
                    action_id="1",
                    name="cancel_pending_order",
                    arguments={"order_id": ORDER, "reason": "no longer needed"},
                ),
            ],
            communicate_info=["70.00"],
        ),
        variant=Variant(kind="base", details={"kept": True}),
        provenance=Provenance(generator="template", seed=4, trajectory_id="t1"),
    )


GOOD = {
    "persona": "Night-shift nurse, short on time and a little stressed.",
    "reason_for_call": f"Hi, I need to cancel my order {ORDER}, I don't need it anymore.",
    "known_info": f"My email's {EMAIL} and the order is {ORDER}.",
    "unknown_info": "Not sure which card I paid with.",
    "task_instructions": "Say you want it cancelled because it's 'no longer needed'.",
}


@pytest.fixture
def model():
    """A provider answering with whatever `model.reply` holds; records what it was asked."""

    class Scripted:
        reply = ""
        requests = []

        def __call__(self, request):
            self.requests.append(request)
            return self.reply

    scripted = Scripted()
    register_provider("scripted_convert", scripted)
    scripted.name = "scripted_convert/m"
    yield scripted
    unregister_provider("scripted_convert")


def test_rewrite_keeps_values_and_changes_only_the_scenario(model):
    model.reply = json.dumps(GOOD)
    task = _task()
    trajectory = Trajectory(
        id="t1",
        domain="retail",
        seed=0,
        user_id="aimee_young_3126",
        calls=[ToolCall(name="find_user_id_by_email", arguments={"email": EMAIL})],
        results=[ToolResult(name="find_user_id_by_email", ok=True, content="aimee_young_3126")],
    )
    rewritten = rewrite_task(task, trajectory, model=model.name, seed=3)

    fields = scenario_fields(rewritten)
    assert fields == {**GOOD}
    assert rewritten.user_scenario.instructions.domain == "retail"
    assert rewritten.evaluation_criteria == task.evaluation_criteria
    assert rewritten.gold_calls == task.gold_calls
    assert rewritten.variant == task.variant and "rewrite_rejected" not in rewritten.variant.details
    assert rewritten.provenance.generator == f"template+rewrite:{model.name}"
    assert rewritten.provenance.seed == 4 and rewritten.provenance.trajectory_id == "t1"
    assert task == _task()  # the input is untouched

    (request,) = model.requests
    assert request.params["seed"] == 3
    prompt = request.messages[-1].content
    assert EMAIL in prompt and "find_user_id_by_email" in prompt  # scenario + trajectory context
    assert "cancel_pending_order" not in prompt  # gold actions are not the model's business


def test_rewrite_that_drops_a_known_value_falls_back(model):
    model.reply = json.dumps({**GOOD, "known_info": f"The order is {ORDER}."})  # lost the email
    task = _task()
    kept = rewrite_task(task, None, model=model.name)
    assert scenario_fields(kept) == scenario_fields(task)
    assert kept.provenance == task.provenance
    reason = kept.variant.details["rewrite_rejected"]
    assert EMAIL in reason and ORDER not in reason
    assert kept.variant.details["kept"] is True and kept.variant.kind == "base"


def test_known_info_values_must_stay_in_known_info(model):
    moved = {**GOOD, "known_info": "I can give my email.", "reason_for_call": f"{EMAIL} {ORDER}"}
    model.reply = json.dumps(moved)
    kept = rewrite_task(_task(), None, model=model.name)
    assert "rewrite_rejected" in kept.variant.details


def test_other_values_may_move_between_fields(model):
    moved = {
        **GOOD,
        "reason_for_call": "I want to cancel something.",
        "task_instructions": f"Cancel {ORDER}; reason 'no longer needed'.",
    }
    model.reply = json.dumps(moved)
    rewritten = rewrite_task(_task(), None, model=model.name)
    assert "rewrite_rejected" not in rewritten.variant.details
    assert rewritten.user_scenario.instructions.reason_for_call == "I want to cancel something."


def test_dropped_quoted_option_is_caught():
    task = _task()
    lost = task.model_copy(deep=True)
    lost.user_scenario.instructions.task_instructions = "Ask to cancel it."
    assert missing_values(task, lost) == ["no longer needed"]
    assert missing_values(task, task) == []


@pytest.mark.parametrize(
    ("reply", "rejected"),
    [
        ("I'd rather not.", "not a JSON object"),
        ("[1, 2]", "not a JSON object"),
        ("```json\n" + json.dumps(GOOD) + "\n```", None),
        ("Sure! " + json.dumps(GOOD) + " Hope this helps.", None),
        (json.dumps({"persona": None, "known_info": 5}), None),  # unusable fields keep originals
    ],
)
def test_rewrite_reply_parsing(model, reply, rejected):
    model.reply = reply
    result = rewrite_task(_task(), None, model=model.name)
    assert result.variant.details.get("rewrite_rejected", "").startswith(
        f"the model's reply is {rejected}" if rejected else ""
    )
    assert ("rewrite_rejected" in result.variant.details) == bool(rejected)
    if rejected:
        assert scenario_fields(result) == scenario_fields(_task())


def test_rewrite_of_free_text_instructions(model):
    text = f"You are {EMAIL} and want order {ORDER} cancelled."
    model.reply = json.dumps({"persona": "Calm.", "instructions": f"Cancel {ORDER} for {EMAIL}."})
    rewritten = rewrite_task(_task(instructions=text), None, model=model.name)
    assert rewritten.user_scenario.instructions == f"Cancel {ORDER} for {EMAIL}."
    model.reply = json.dumps({"persona": "Calm.", "instructions": "Cancel my order."})
    kept = rewrite_task(_task(instructions=text), None, model=model.name)
    assert kept.user_scenario.instructions == text and "rewrite_rejected" in kept.variant.details


# --------------------------------------------------------------------------------------- judge


def test_judge_task_scores_and_records(model):
    model.reply = json.dumps({"realism": 8, "necessity": "9", "correctness": 7.5, "reason": "ok"})
    scores = judge_task(_task(), model=model.name)
    assert scores == {"realism": 8.0, "necessity": 9.0, "correctness": 7.5}
    prompt = model.requests[-1].messages[-1].content
    assert "cancel_pending_order" in prompt and EMAIL in prompt  # the judge sees the gold
    judged = with_judge_scores(_task(), scores)
    assert judged.provenance.judge_scores == scores
    assert judged.provenance.generator == "template"
    assert keep_by_judge(judged.provenance.judge_scores)


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ({"realism": 12, "necessity": 0, "correctness": -3}, [10.0, 1.0, 1.0]),
        ({"realism": "7/10", "necessity": " 6.5 ", "correctness": 10}, [7.0, 6.5, 10.0]),
    ],
)
def test_judge_scores_are_clamped_and_read_from_numeric_text(reply, expected):
    scores = parse_judge_scores("```json\n" + json.dumps(reply) + "\n```")
    assert [scores[name] for name in JUDGE_CRITERIA] == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Great task, 9/10.", "not a JSON object"),
        (None, "not a JSON object"),
        (json.dumps({"realism": 8, "necessity": 8}), "'correctness'"),
        (json.dumps({"realism": "high", "necessity": 8, "correctness": 8}), "realism"),
        (json.dumps({"realism": True, "necessity": 8, "correctness": 8}), "realism"),
        (json.dumps({"realism": 8, "necessity": None, "correctness": 8}), "necessity"),
        ('{"realism": 8, "necessity": NaN, "correctness": 8}', "necessity"),
    ],
)
def test_unusable_judge_replies_raise(text, message):
    with pytest.raises(ModelCallError, match=message):
        parse_judge_scores(text)


def test_keep_by_judge_threshold():
    assert keep_by_judge({"realism": 7, "necessity": 7, "correctness": 7})
    assert keep_by_judge({"realism": 10, "necessity": 4, "correctness": 7})
    assert not keep_by_judge({"realism": 7, "necessity": 7, "correctness": 6.9})
    assert keep_by_judge({"realism": 5, "necessity": 5, "correctness": 5}, threshold=5)
    assert not keep_by_judge({})
