"""The LLM path of `t2t generate`: explorer, rewrite and judge, all through litellm, offline."""

import json

import pytest

from t2t.core.files import read_tasks
from t2t.core.schema import Message
from t2t.generate import GenerateConfig, generate_tasks
from t2t.intents import check_variant
from t2t.llm import ProviderRequest, register_provider, unregister_provider


def _echo_rewrite(request: ProviderRequest) -> str:
    """Rewrites by prefixing the reason for the call, keeping every value."""
    text = request.messages[-1].content or ""
    fields, _ = json.JSONDecoder().raw_decode(text)
    fields["reason_for_call"] = "Hi there! " + fields["reason_for_call"]
    return json.dumps(fields)


def _strict_judge(request: ProviderRequest) -> Message:
    """Rates about half the tasks with a withheld fact low: only those must be dropped."""
    view = request.messages[-1].content or ""
    low = "Only if the agent asks which one" in view and len(view) % 2 == 0
    score = 3 if low else 9
    return Message(
        role="assistant",
        content=json.dumps({"realism": score, "necessity": score, "correctness": score}),
    )


@pytest.fixture
def providers():
    register_provider("test-rewrite", _echo_rewrite)
    register_provider("test-judge", _strict_judge)
    yield
    unregister_provider("test-rewrite")
    unregister_provider("test-judge")


def _config(**changes) -> GenerateConfig:
    return GenerateConfig(domain="retail", scale="small", n=8, chunk_size=4, **changes)


def test_llm_explorer_tasks_verify_and_say_where_they_came_from(tmp_path):
    config = _config(explorer="llm", model="t2t-explore/graph")
    report = generate_tasks(config, tmp_path / "llm", workers=1, progress=False)
    assert report.total_kept == 8
    tasks = read_tasks(tmp_path / "llm" / "tasks.jsonl")
    assert {t.variant.kind for t in tasks} == {"base", "ambiguous", "changing", "infeasible"}
    assert all(t.provenance.generator.startswith("llm-explorer:t2t-explore/graph") for t in tasks)
    from t2t.generate import _context

    env, _, _ = _context(config)
    assert all(check_variant(t, env).ok for t in tasks)


def test_judge_drops_low_scores_and_rewrite_keeps_the_gold(tmp_path, providers):
    plain = generate_tasks(_config(), tmp_path / "plain", workers=1, progress=False)
    judged = generate_tasks(
        _config(rewrite_model="test-rewrite/x", judge_model="test-judge/x"),
        tmp_path / "judged",
        workers=1,
        progress=False,
    )
    assert plain.total_kept == judged.total_kept == 8
    dropped = judged.dropped["ambiguous"]
    assert any(reason.startswith("judge: mean score 3.0 below 7") for reason in dropped), dropped
    tasks = read_tasks(tmp_path / "judged" / "tasks.jsonl")
    assert all(
        t.provenance.judge_scores == {k: 9.0 for k in t.provenance.judge_scores} for t in tasks
    )
    assert all(t.user_scenario.instructions.reason_for_call.startswith("Hi there!") for t in tasks)
    assert all("+rewrite:test-rewrite/x" in t.provenance.generator for t in tasks)
    by_id = {t.id: t for t in read_tasks(tmp_path / "plain" / "tasks.jsonl")}
    for task in tasks:  # the wording changed; the gold did not
        if task.id in by_id:
            assert task.evaluation_criteria == by_id[task.id].evaluation_criteria
