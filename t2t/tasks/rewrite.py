"""Optional model passes over a task: rewrite its scenario in a customer's voice, judge it.

Only the natural-language user scenario is rewritten; gold actions and evaluation criteria never
change, so the task stays exactly as verifiable as before. A rewrite that loses a value the user
must supply (an id, an amount, an option) is rejected and the original text kept, with the reason
in `task.variant.details["rewrite_rejected"]`. The judge scores realism, necessity and
correctness 1–10 (the paper keeps tasks whose mean is at least 7); it advises, replay verifies.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from t2t.core.errors import ModelCallError
from t2t.core.schema import Message, Task, Trajectory, UserInstructions
from t2t.llm import complete, run_sync

__all__ = [
    "JUDGE_CRITERIA",
    "judge_task",
    "judge_task_async",
    "keep_by_judge",
    "missing_values",
    "parse_judge_scores",
    "rewrite_task",
    "rewrite_task_async",
    "scenario_fields",
    "with_judge_scores",
]

JUDGE_CRITERIA = ("realism", "necessity", "correctness")
_STRUCTURED_FIELDS = ("reason_for_call", "known_info", "unknown_info", "task_instructions")
_JSON_PARAMS: dict[str, Any] = {"response_format": {"type": "json_object"}, "drop_params": True}

_REWRITE_PROMPT = """\
You rewrite the user side of a customer-service benchmark task so it reads like a real customer
wrote it. Rewrite only the wording of the fields you are given. Keep every fact and every value
exactly as written: ids (with their symbols, e.g. '#W0000000'), emails, names, zip codes, amounts,
product options. Keep each value in the same field. Do not add facts, requests or values.
Answer with one JSON object with the same keys as the input; null stays null."""

_JUDGE_PROMPT = """\
You review a task from a customer-service agent benchmark. Score it from 1 (bad) to 10 (good):
- realism: a real customer could plausibly make this request, in these words;
- necessity: every gold action is needed to fulfil the request, and none is missing;
- correctness: the gold actions and the information to communicate fulfil the request under the
  stated policy, with the values the user gives.
Answer with one JSON object: {"realism": n, "necessity": n, "correctness": n, "reason": "..."}."""


# ---------------------------------------------------------------------------------- rewriting


def scenario_fields(task: Task) -> dict[str, str | None]:
    """The natural-language fields a rewrite may change, by name."""
    scenario = task.user_scenario
    fields: dict[str, str | None] = {"persona": scenario.persona}
    if isinstance(scenario.instructions, str):
        fields["instructions"] = scenario.instructions
    else:
        fields.update({name: getattr(scenario.instructions, name) for name in _STRUCTURED_FIELDS})
    return fields


_QUOTED = re.compile(r"'([^'\n]{1,80})'|\"([^\"\n]{1,80})\"")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_WITH_DIGIT = re.compile(r"[#\w.@+/:-]*\d[#\w.@+/:-]*")


def _values(text: str | None) -> list[str]:
    """The value strings in a text: quoted phrases, emails, and tokens holding a digit."""
    if not text:
        return []
    found = [a or b for a, b in _QUOTED.findall(text)] + _EMAIL.findall(text)
    found += [token.strip(".,:;/-") for token in _WITH_DIGIT.findall(text)]
    return list(dict.fromkeys(v for v in found if v))


def missing_values(original: Task, rewritten: Task) -> list[str]:
    """Values of the original scenario the rewrite lost (case-insensitive substring test).

    A value of `known_info` must stay in `known_info` (the simulated user supplies it from
    there); values from the other fields may move anywhere in the rewritten scenario.
    """
    before, after = scenario_fields(original), scenario_fields(rewritten)
    everything = " ".join(text for text in after.values() if text).lower()
    missing = []
    for name, text in before.items():
        where = (after.get(name) or "").lower() if name == "known_info" else everything
        missing += [value for value in _values(text) if value.lower() not in where]
    return list(dict.fromkeys(missing))


def _json_object(text: str | None) -> dict[str, Any] | None:
    """The JSON object in a model reply, tolerating code fences and text around it."""
    if not text:
        return None
    candidates = [text.strip()]
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def _context(trajectory: Trajectory | None) -> str:
    if trajectory is None:
        return ""
    calls = "\n".join(
        f"- {c.name}({json.dumps(c.arguments, ensure_ascii=False)})"
        for c in trajectory.successful_calls
    )
    return f"\n\nFor context, the calls the agent made in the system:\n{calls}" if calls else ""


def _apply(task: Task, reply: dict[str, Any]) -> Task:
    """`task` with the reply's string fields in place of its scenario text."""
    current = scenario_fields(task)
    text = {
        name: reply[name] if isinstance(reply.get(name), str) else value
        for name, value in current.items()
    }
    scenario = task.user_scenario
    if isinstance(scenario.instructions, str):
        instructions: UserInstructions | str = text["instructions"] or scenario.instructions
    else:
        instructions = scenario.instructions.model_copy(
            update={
                name: text[name] or getattr(scenario.instructions, name)
                for name in _STRUCTURED_FIELDS
            }
        )
    return task.model_copy(
        update={
            "user_scenario": scenario.model_copy(
                update={"persona": text["persona"], "instructions": instructions}
            )
        },
        deep=True,
    )


def _rejected(task: Task, reason: str) -> Task:
    variant = task.variant.model_copy(
        update={"details": {**task.variant.details, "rewrite_rejected": reason}}, deep=True
    )
    return task.model_copy(update={"variant": variant}, deep=True)


async def rewrite_task_async(
    task: Task, trajectory: Trajectory | None, *, model: str, seed: int = 0
) -> Task:
    """A copy of `task` whose scenario reads like a real customer, or the original with a reason.

    Args:
        task: The task to rewrite; it is not changed.
        trajectory: The exploration the task came from, shown to the model as context.
        model: A litellm model name.
        seed: Sent to providers that support sampling seeds.
    """
    fields = scenario_fields(task)
    messages = [
        Message(role="system", content=_REWRITE_PROMPT),
        Message(
            role="user",
            content=json.dumps(fields, ensure_ascii=False, indent=1) + _context(trajectory),
        ),
    ]
    reply = await complete(model, messages, seed=seed, **_JSON_PARAMS)
    parsed = _json_object(reply.message.content)
    if parsed is None:
        return _rejected(task, "the model's reply is not a JSON object")
    rewritten = _apply(task, parsed)
    lost = missing_values(task, rewritten)
    if lost:
        return _rejected(task, f"the rewrite lost values: {', '.join(lost)}")
    generator = f"{task.provenance.generator}+rewrite:{model}"
    return rewritten.model_copy(
        update={"provenance": rewritten.provenance.model_copy(update={"generator": generator})}
    )


def rewrite_task(task: Task, trajectory: Trajectory | None, *, model: str, seed: int = 0) -> Task:
    """`rewrite_task_async` for sync callers (safe in Jupyter)."""
    return run_sync(rewrite_task_async(task, trajectory, model=model, seed=seed))


# ------------------------------------------------------------------------------------ judging


def _score(name: str, value: Any) -> float:
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(-?\d+(?:\.\d+)?)\s*(?:/\s*10)?\s*", value)
        value = float(match.group(1)) if match else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ModelCallError(f"judge reply: {name} is not a number from 1 to 10: {value!r}")
    return min(10.0, max(1.0, float(value)))


def parse_judge_scores(text: str | None) -> dict[str, float]:
    """The criteria scores in a judge reply, clamped to 1–10; a reply without them raises.

    Raises:
        ModelCallError: the reply is not a JSON object, or a criterion is missing or not a number
            (a failed judge call: counted, never read as a score).
    """
    reply = _json_object(text)
    if reply is None:
        raise ModelCallError(f"judge reply is not a JSON object: {(text or '')[:200]!r}")
    scores = {}
    for name in JUDGE_CRITERIA:
        if name not in reply:
            raise ModelCallError(f"judge reply has no {name!r} score")
        scores[name] = _score(name, reply[name])
    return scores


def keep_by_judge(scores: dict[str, float], threshold: float = 7.0) -> bool:
    """The paper's filter: keep a task when the mean judge score is at least `threshold`."""
    if not scores:
        return False
    return sum(scores.values()) / len(scores) >= threshold


def _task_for_judge(task: Task) -> str:
    criteria = task.evaluation_criteria
    view = {
        "user_scenario": scenario_fields(task),
        "relevant_policies": task.description.relevant_policies if task.description else None,
        "gold_actions": [{"name": c.name, "arguments": c.arguments} for c in task.gold_calls],
        "communicate_info": criteria.communicate_info if criteria else None,
    }
    return json.dumps(view, ensure_ascii=False, indent=1)


async def judge_task_async(task: Task, *, model: str) -> dict[str, float]:
    """Realism, necessity and correctness scores (1–10) of `task` from `model`."""
    messages = [
        Message(role="system", content=_JUDGE_PROMPT),
        Message(role="user", content=_task_for_judge(task)),
    ]
    reply = await complete(model, messages, **_JSON_PARAMS)
    return parse_judge_scores(reply.message.content)


def judge_task(task: Task, *, model: str) -> dict[str, float]:
    """`judge_task_async` for sync callers (safe in Jupyter)."""
    return run_sync(judge_task_async(task, model=model))


def with_judge_scores(task: Task, scores: dict[str, float]) -> Task:
    """A copy of `task` with `scores` recorded in `provenance.judge_scores`."""
    provenance = task.provenance.model_copy(update={"judge_scores": dict(scores)})
    return task.model_copy(update={"provenance": provenance})
