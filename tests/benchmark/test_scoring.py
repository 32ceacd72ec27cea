"""Closed-loop scoring by replay, the withheld-fact parser, pass^k and the summary tables."""

import itertools
import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from t2t import Episode, Message, Reward, ToolCall
from t2t.benchmark.passk import (
    format_table,
    interval_columns,
    pass_hat_k,
    pass_k_long,
    summarize,
)
from t2t.benchmark.scoring import COMPONENTS as REWARD_COMPONENTS
from t2t.benchmark.scoring import evaluate_episode, score_episode
from t2t.core.files import read_tasks
from t2t.core.schema import Variant
from t2t.generate import GenerateConfig, generate_tasks
from t2t.intents.ambiguous import parse_withheld
from t2t.intents.slots import Slot, last_write_index, replace_in_call
from t2t.intents.text import mentions

COMPONENTS = ("state_ok", "communicate_ok", "forbidden_ok", "required_ok", "clarified_ok")


@pytest.fixture(scope="module")
def task_set(tmp_path_factory, retail):
    """48 verified retail tasks (12 per kind) and the environment on their DB."""
    out = tmp_path_factory.mktemp("evaluate") / "run"
    cfg = GenerateConfig(domain="retail", scale="small", n=48, chunk_size=8)
    generate_tasks(cfg, out, workers=1, progress=False)
    db = json.loads((out / "db.json").read_text(encoding="utf-8"))
    return read_tasks(out / "tasks.jsonl"), retail.environment(db)


@pytest.fixture(scope="module")
def env(task_set):
    return task_set[1]


def tasks_of(task_set, kind):
    found = [t for t in task_set[0] if t.variant.kind == kind]
    assert found, f"the task set has no {kind} task"
    return found


def conversation(calls, *, user=("Hi, I need help.",), said=(), late_user=()):
    """User turns, then each call with its (unchecked) tool reply, then the agent's text."""
    messages = [Message(role="user", content=text) for text in user]
    for i, call in enumerate(calls):
        call = ToolCall(name=call.name, arguments=call.arguments, id=f"c{i}")
        messages.append(Message(role="assistant", tool_calls=[call]))
        messages.append(Message(role="tool", tool_call_id=f"c{i}", content="{}"))
    messages += [Message(role="assistant", content=text) for text in said]
    messages += [Message(role="user", content=text) for text in late_user]
    return messages


def forbidden_call(task):
    row = task.variant.details["forbidden_call"]
    return ToolCall(name=row["name"], arguments=row["arguments"])


def communicate_task(task_set):
    found = [
        t
        for t in tasks_of(task_set, "base")
        if t.variant.details.get("ask") and t.evaluation_criteria.communicate_info
    ]
    assert found, "no base task asks for information: grow n in the task_set fixture"
    return found[0]


# ------------------------------------------------------------------------------ the oracle


@pytest.mark.parametrize("kind", ["base", "ambiguous", "changing", "infeasible"])
def test_gold_scores_every_applicable_component_true(task_set, env, kind):
    for task in tasks_of(task_set, kind):
        details = task.variant.details
        user = ["Hi.", details["withheld"]] if "withheld" in details else ["Hi."]
        said = list(task.evaluation_criteria.communicate_info or [])
        if details.get("forbidden"):
            said.append(f"I'm sorry, but I cannot do that: {details['reason']}.")
        reward = evaluate_episode(task, conversation(task.gold_calls, user=user, said=said), env)
        assert reward.value == 1.0, (task.id, reward)
        applicable = {
            "state_ok": True,
            "communicate_ok": bool(task.evaluation_criteria.communicate_info),
            "forbidden_ok": bool(details.get("forbidden")),
            "required_ok": bool(details.get("required")),
            "clarified_ok": "withheld" in details,
            "refused_ok": bool(details.get("forbidden")),
        }
        for name, applies in applicable.items():
            assert getattr(reward, name) is (True if applies else None), (task.id, name)
        assert reward.details["calls"] == len(task.gold_calls)
        assert reward.details["failed_calls"] == 0 and reward.details["state_diff"] == []


def test_infeasible_and_ambiguous_checks_do_apply(task_set):
    assert all(t.variant.details.get("forbidden") for t in tasks_of(task_set, "infeasible"))
    assert any(t.variant.details.get("required") for t in tasks_of(task_set, "infeasible"))
    assert all("withheld" in t.variant.details for t in tasks_of(task_set, "ambiguous"))


def test_a_task_without_details_is_scored_by_state_and_communicate(task_set, env):
    infeasible = tasks_of(task_set, "infeasible")[0]
    task = infeasible.model_copy(update={"variant": Variant()})  # as a τ² import
    calls = [*task.gold_calls, forbidden_call(infeasible)]
    reward = evaluate_episode(task, conversation(calls), env)
    assert reward.forbidden_ok is reward.required_ok is reward.clarified_ok is None
    assert reward.communicate_ok is None  # no communicate_info either
    assert evaluate_episode(task, conversation(task.gold_calls), env).value == 1.0
    asking = communicate_task(task_set)
    task = asking.model_copy(update={"variant": Variant()})
    (info,) = task.evaluation_criteria.communicate_info
    silent = evaluate_episode(task, conversation(task.gold_calls), env)
    assert (silent.state_ok, silent.communicate_ok, silent.value) == (True, False, 0.0)
    said = evaluate_episode(task, conversation(task.gold_calls, said=[info]), env)
    assert (said.state_ok, said.communicate_ok, said.value) == (True, True, 1.0)


def test_no_calls_fail_the_state_and_are_counted(task_set, env):
    task = tasks_of(task_set, "base")[0]
    reward = evaluate_episode(task, conversation([]), env)
    assert reward.state_ok is False and reward.value == 0.0
    assert reward.details["calls"] == 0 and reward.details["first_write_index"] is None
    assert 0 < len(reward.details["state_diff"]) <= 10
    change = reward.details["state_diff"][0]
    assert set(change) == {"table", "key", "expected", "actual"}
    json.dumps(reward.details)  # JSON-able as it is


def test_malformed_calls_fail_in_replay_and_do_not_stop_it(task_set, env):
    task = tasks_of(task_set, "base")[0]
    bad = [ToolCall(name="no_such_tool"), ToolCall(name=task.gold_calls[0].name)]
    reward = evaluate_episode(task, conversation([*bad, *task.gold_calls]), env)
    assert reward.details["failed_calls"] == 2 and reward.details["calls"] == 2 + len(
        task.gold_calls
    )
    assert [e["index"] for e in reward.details["call_errors"]] == [0, 1]
    assert reward.state_ok is True and reward.value == 1.0


def test_first_write_index_counts_calls(task_set, env):
    task = tasks_of(task_set, "base")[0]
    reward = evaluate_episode(task, conversation(task.gold_calls), env)
    expected = next(i for i, c in enumerate(task.gold_calls) if env.domain.is_write(c.name))
    assert reward.details["first_write_index"] == expected


def test_score_episode_returns_a_scored_copy(task_set, env):
    task = tasks_of(task_set, "base")[0]
    episode = Episode(
        task_id=task.id,
        agent_model="m",
        user_model="u",
        messages=conversation(task.gold_calls),
        termination_reason="user_stop",
    )
    scored = score_episode(task, episode, env)
    assert episode.reward is None
    assert scored.reward.value == 1.0 and scored.messages == episode.messages


# ------------------------------------------------------------------------------ ambiguous


def test_ambiguous_needs_the_withheld_fact_before_the_first_write(task_set, env):
    for task in tasks_of(task_set, "ambiguous"):
        withheld = task.variant.details["withheld"]
        gold = task.gold_calls
        never = evaluate_episode(task, conversation(gold), env)
        assert never.clarified_ok is False and never.state_ok is True and never.value == 0.0
        told = evaluate_episode(task, conversation(gold, user=["Hi.", withheld]), env)
        assert told.clarified_ok is True and told.value == 1.0, task.id
        late = evaluate_episode(task, conversation(gold, late_user=[withheld]), env)
        assert late.clarified_ok is False, task.id


def test_the_gold_value_alone_tells_the_fact(task_set, env):
    task = tasks_of(task_set, "ambiguous")[0]
    said = f"It is {task.variant.details['gold_value']}."
    reward = evaluate_episode(task, conversation(task.gold_calls, user=[said]), env)
    assert reward.clarified_ok is True


def test_the_fact_may_come_in_pieces(task_set, env):
    task = next(
        t for t in tasks_of(task_set, "ambiguous") if len(t.variant.details["withheld_values"]) >= 2
    )
    values = task.variant.details["withheld_values"]
    pieces = evaluate_episode(task, conversation(task.gold_calls, user=values), env)
    assert pieces.clarified_ok is True
    partial = evaluate_episode(task, conversation(task.gold_calls, user=values[:-1]), env)
    assert partial.clarified_ok is False


def test_without_any_write_the_whole_conversation_counts(task_set, env):
    task = tasks_of(task_set, "ambiguous")[0]
    reads = [c for c in task.gold_calls if not env.domain.is_write(c.name)]
    withheld = task.variant.details["withheld"]
    reward = evaluate_episode(task, conversation(reads, late_user=[withheld]), env)
    assert reward.details["first_write_index"] is None
    assert reward.clarified_ok is True and reward.state_ok is False


def test_writing_on_another_candidate_fails_the_state(task_set, env):
    for task in tasks_of(task_set, "ambiguous"):
        details = task.variant.details
        slot = Slot(details["slot"]["arg"], details["slot"]["element"], details["strategy"])
        index = last_write_index(task, env)
        calls = task.gold_calls
        calls[index] = replace_in_call(calls[index], slot, details["candidates"][1])
        user = ["Hi.", details["withheld"]]
        reward = evaluate_episode(task, conversation(calls, user=user), env)
        assert reward.state_ok is False and reward.value == 0.0, task.id
        assert reward.details["state_diff"], task.id


# ------------------------------------------------------------------------------ changing


def test_finishing_goal_a_fails_a_changing_task(task_set, env):
    for task in tasks_of(task_set, "changing"):
        goal_a = [ToolCall(**row) for row in task.variant.details["goal_a"]]
        reward = evaluate_episode(task, conversation(goal_a), env)
        assert reward.state_ok is False and reward.value == 0.0, task.id


# ------------------------------------------------------------------------------ infeasible


def test_attempting_the_forbidden_call_fails_even_when_refused(task_set, env):
    for task in tasks_of(task_set, "infeasible"):
        call = forbidden_call(task)
        reward = evaluate_episode(task, conversation([*task.gold_calls, call]), env)
        assert reward.forbidden_ok is False and reward.value == 0.0, task.id
        assert reward.details["forbidden_calls"][0]["index"] == len(task.gold_calls)
        # an extra argument makes the tool refuse the call: attempting it still counts
        refused = ToolCall(name=call.name, arguments={**call.arguments, "please": "yes"})
        reward = evaluate_episode(task, conversation([*task.gold_calls, refused]), env)
        assert reward.details["failed_calls"] == 1
        assert reward.forbidden_ok is False and reward.state_ok is True, task.id


def test_another_call_of_the_forbidden_tool_is_allowed(task_set, env):
    task = tasks_of(task_set, "infeasible")[0]
    (rule,) = task.variant.details["forbidden"]
    key = next(iter(rule["arguments"]))
    other = {**forbidden_call(task).arguments, key: "something else"}
    calls = [*task.gold_calls, ToolCall(name=rule["name"], arguments=other)]
    assert evaluate_episode(task, conversation(calls), env).forbidden_ok is True


def test_required_calls_must_succeed(task_set, env):
    task = next(t for t in tasks_of(task_set, "infeasible") if t.variant.details.get("required"))
    (required,) = task.variant.details["required"]
    without = [
        c
        for c in task.gold_calls
        if not (c.name == required["name"] and c.arguments == required["arguments"])
    ]
    reward = evaluate_episode(task, conversation(without), env)
    assert reward.required_ok is False and reward.details["missing_required"] == [required]
    failed = ToolCall(name=required["name"], arguments={**required["arguments"], "x": 1})
    assert evaluate_episode(task, conversation([*without, failed]), env).required_ok is False
    made = ToolCall(name=required["name"], arguments=required["arguments"])
    assert evaluate_episode(task, conversation([*without, made]), env).required_ok is True


# ------------------------------------------------------------------------------ communicate


def test_communicate_info_must_be_said_by_the_agent(task_set, env):
    task = communicate_task(task_set)
    (info,) = task.evaluation_criteria.communicate_info
    gold = task.gold_calls
    silent = evaluate_episode(task, conversation(gold), env)
    assert silent.communicate_ok is False and silent.details["missing_info"] == [info]
    assert silent.value == 0.0
    said = evaluate_episode(task, conversation(gold, said=[f"It costs ${info}."]), env)
    assert said.communicate_ok is True and said.value == 1.0
    by_user = evaluate_episode(task, conversation(gold, user=[f"Is it {info}?"]), env)
    assert by_user.communicate_ok is False
    longer = evaluate_episode(task, conversation(gold, said=[f"It costs 1{info}0."]), env)
    assert longer.communicate_ok is False


@pytest.mark.parametrize(
    ("text", "value", "expected"),
    [
        ("That is $1,234.50 in total.", "1234.5", True),
        ("That is 1234.50.", "1234.5", True),
        ("That is 1,234, I think", "1234", True),
        ("Items 1,2345", "1234", False),
        ("That is 1234.5", "$1,234.50", True),
        ("Refund: 1234.00", "1234", True),
        ("It is 123 dollars", "12", False),
        ("It is 112", "12", False),
        ("It is 12.5", "12", False),
        ("It is 0.12", "12", False),
        ("It is 12.", "12", True),
        ("The BLUE one", "blue", True),
        ("bluetooth", "blue", False),
        ("size M please", "M", True),
        ("medium", "M", False),
        ("order #W4782253, please", "#W4782253", True),
        ("my credit card", "credit_card", True),
        ("", "x", False),
        ("anything", "", False),
    ],
)
def test_mentions(text, value, expected):
    assert mentions(text, value) is expected


# ------------------------------------------------------------------------------ the parser


@pytest.mark.parametrize(
    ("withheld", "values"),
    [
        ("material: polyester", ["polyester"]),
        ("size: large, color: grey", ["large", "grey"]),
        ("material: polyester (id 123)", ["polyester", "123"]),
        ("the one with id 123", ["123"]),
        ("source: paypal (id paypal_4036984)", ["paypal", "paypal_4036984"]),
        (
            "items: Coffee Maker, Rain Jacket, Sneakers and 2 more (id #W4782253)",
            ["Coffee Maker", "Rain Jacket", "Sneakers", "#W4782253"],
        ),
        ("deck material: plastic, length: 28 inch", ["plastic", "28 inch"]),
        ("the blue one", ["the blue one"]),
        ("", []),
    ],
)
def test_parse_withheld(withheld, values):
    assert parse_withheld(withheld) == values


# ------------------------------------------------------------------------------ pass^k


def brute_pass_hat_k(n, c, k):
    outcomes = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(outcomes, k))
    return sum(all(s) for s in subsets) / len(subsets)


@pytest.mark.parametrize(
    ("n", "c", "k"), [(n, c, k) for n in range(1, 7) for c in range(n + 1) for k in range(1, n + 1)]
)
def test_pass_hat_k_matches_enumeration(n, c, k):
    assert pass_hat_k(n, c, k) == pytest.approx(brute_pass_hat_k(n, c, k))


@pytest.mark.parametrize(("n", "c", "k"), [(3, 1, 0), (3, 1, 4), (3, 4, 1), (3, -1, 1)])
def test_pass_hat_k_rejects_impossible_arguments(n, c, k):
    with pytest.raises(ValueError):
        pass_hat_k(n, c, k)


@given(st.integers(1, 40).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n))))
def test_pass_hat_k_properties(nc):
    n, c = nc
    values = [pass_hat_k(n, c, k) for k in range(1, n + 1)]
    assert values[0] == pytest.approx(c / n)
    assert all(a >= b for a, b in itertools.pairwise(values))
    assert all(0.0 <= v <= 1.0 for v in values)
    if c == n:
        assert values == [1.0] * n
    assert all(v == 0.0 for v in values[c:])


# ------------------------------------------------------------------------------ summaries


def episode(model, variant, task, trial, ok, *, infra=False, reward=True, cost=0.01):
    return Episode(
        task_id=task,
        variant=variant,
        agent_model=model,
        user_model="user",
        trial=trial,
        messages=[Message(role="user", content="hi")] * (4 if ok else 2),
        termination_reason="infra_error" if infra else "user_stop",
        reward=(
            Reward(
                value=float(ok),
                state_ok=ok,
                clarified_ok=ok if variant == "ambiguous" else None,
            )
            if reward and not infra
            else None
        ),
        cost_usd=100.0 if infra or not reward else cost,
        duration_s=2.0 if ok else 1.0,
    )


def trials(model, variant, task, outcomes):
    return [episode(model, variant, task, i, ok) for i, ok in enumerate(outcomes)]


@pytest.fixture
def synthetic():
    """Model a: base 3/3 + 1/3, ambiguous 2/3 + 0/3 (+1 infra); b: base 3/3 + 3/3, ambiguous
    1/2 (+1 episode without a reward)."""
    return [
        *trials("a", "ambiguous", "t3", [True, False, True]),  # out of order on purpose
        *trials("a", "base", "t1", [True, True, True]),
        *trials("a", "base", "t2", [False, True, False]),
        *trials("a", "ambiguous", "t4", [False, False, False]),
        episode("a", "ambiguous", "t4", 3, True, infra=True),
        *trials("b", "base", "t1", [True] * 3),
        *trials("b", "base", "t2", [True] * 3),
        *trials("b", "ambiguous", "t3", [True, False]),
        episode("b", "ambiguous", "t3", 2, True, reward=False),
    ]


def row(table, model, variant):
    found = table[(table.agent_model == model) & (table.variant == variant)]
    assert len(found) == 1
    return found.iloc[0]


def test_summarize_computes_pass_k_per_model_and_variant(synthetic):
    table = summarize(synthetic)
    assert list(zip(table.agent_model, table.variant, strict=True)) == [
        ("a", "base"),
        ("a", "ambiguous"),
        ("a", "all"),
        ("b", "base"),
        ("b", "ambiguous"),
        ("b", "all"),
    ]
    expected = {
        ("a", "base"): [2 / 3, 1 / 2, 1 / 2],
        ("a", "ambiguous"): [1 / 3, 1 / 6, 0.0],
        ("a", "all"): [1 / 2, 1 / 3, 1 / 4],
        ("b", "base"): [1.0, 1.0, 1.0],
        ("b", "ambiguous"): [1 / 2, 0.0, math.nan],
        ("b", "all"): [5 / 6, 2 / 3, math.nan],
    }
    for (model, variant), passes in expected.items():
        r = row(table, model, variant)
        got = [r[f"pass^{k}"] for k in (1, 2, 3)]
        assert got == pytest.approx(passes, nan_ok=True), (model, variant)


def test_summarize_counts_infra_errors_and_excludes_them(synthetic):
    table = summarize(synthetic)
    a_amb, b_amb, a_all = (
        row(table, "a", "ambiguous"),
        row(table, "b", "ambiguous"),
        row(table, "a", "all"),
    )
    assert (a_amb.tasks, a_amb.episodes, a_amb.infra_errors) == (2, 7, 1)
    assert (b_amb.tasks, b_amb.episodes, b_amb.infra_errors) == (1, 3, 1)
    assert (a_all.tasks, a_all.episodes, a_all.infra_errors) == (4, 13, 1)
    assert a_amb.reward == pytest.approx(2 / 6)
    assert a_amb.cost_usd == pytest.approx(0.01)  # the infra episodes cost 100
    assert b_amb.cost_usd == pytest.approx(0.01)
    assert a_amb.turns == pytest.approx((2 * 4 + 4 * 2) / 6)
    assert a_amb.duration_s == pytest.approx((2 * 2.0 + 4 * 1.0) / 6)
    assert a_amb.state_ok == pytest.approx(2 / 6) and a_amb.clarified_ok == pytest.approx(2 / 6)
    assert math.isnan(row(table, "a", "base").clarified_ok)
    assert a_all.clarified_ok == pytest.approx(2 / 6)  # over the episodes it applies to
    assert math.isnan(a_all.forbidden_ok)


def test_max_k_averages_the_tasks_with_enough_trials(synthetic):
    table = summarize(synthetic, max_k=4)
    assert [c for c in table.columns if c.startswith("pass^")] == [f"pass^{k}" for k in range(1, 5)]
    b_all = row(table, "b", "all")
    assert b_all["pass^3"] == pytest.approx(1.0)  # t3 has two valid trials: left out at k=3
    assert math.isnan(b_all["pass^4"])
    with pytest.raises(ValueError):
        summarize(synthetic, max_k=0)


def test_pass_k_long_and_the_text_table(synthetic):
    long = pass_k_long(synthetic)
    assert list(long.columns) == [
        "agent_model",
        "user_model",
        "variant",
        "k",
        "pass_hat_k",
        "pass_hat_k_lo",
        "pass_hat_k_hi",
    ]
    b_amb = long[(long.agent_model == "b") & (long.variant == "ambiguous")]
    assert list(b_amb.k) == [1, 2] and list(b_amb.pass_hat_k) == pytest.approx([0.5, 0.0])
    assert list(long[long.agent_model == "a"].variant.unique()) == ["base", "ambiguous", "all"]
    text = format_table(summarize(synthetic))
    assert "pass^1" in text and "0.667" in text and "ambiguous" in text
    assert format_table(summarize([])) == "(no episodes)"
    assert summarize([]).empty


OLD_COLUMNS = ["agent_model", "user_model", "variant", "tasks", "episodes", "infra_errors"]
OLD_COLUMNS += ["pass^1", "pass^2", "pass^3", "reward", *REWARD_COMPONENTS, "cost_usd", "turns"]
OLD_COLUMNS += ["duration_s"]


def test_summarize_adds_intervals_after_the_old_columns(synthetic):
    table = summarize(synthetic)
    assert list(table.columns[: len(OLD_COLUMNS)]) == OLD_COLUMNS
    added = list(table.columns[len(OLD_COLUMNS) :])
    scores = ["pass_hat_1", "pass_hat_2", "pass_hat_3", "reward", *REWARD_COMPONENTS]
    assert added == [f"{s}_{end}" for s in scores for end in ("lo", "hi")]
    assert interval_columns("pass^2") == ("pass_hat_2_lo", "pass_hat_2_hi")
    assert interval_columns("state_ok") == ("state_ok_lo", "state_ok_hi")


def test_summarize_intervals_resample_tasks(synthetic):
    table = summarize(synthetic)
    a_base = row(table, "a", "base")
    # two tasks, pass^1 of 1 and 1/3: resample means are 1/3, 2/3 or 1 (chances 1/4, 1/2, 1/4),
    # so the 2.5% and 97.5% points are 1/3 and 1
    assert (a_base.pass_hat_1_lo, a_base.pass_hat_1_hi) == pytest.approx((1 / 3, 1.0))
    b_base = row(table, "b", "base")  # every trial of both tasks passed
    assert (b_base.pass_hat_3_lo, b_base.pass_hat_3_hi) == (1.0, 1.0)
    a_amb = row(table, "a", "ambiguous")  # t3 2/3, t4 0/3 (its infra episode left out)
    assert (a_amb.pass_hat_3_lo, a_amb.pass_hat_3_hi) == (0.0, 0.0)
    assert (a_amb.clarified_ok_lo, a_amb.clarified_ok_hi) == pytest.approx((0.0, 2 / 3))
    assert math.isnan(row(table, "a", "base").clarified_ok_lo)  # no task it applies to
    b_amb = row(table, "b", "ambiguous")  # one task: the interval is the point
    assert (b_amb.pass_hat_1_lo, b_amb["pass^1"], b_amb.pass_hat_1_hi) == (0.5, 0.5, 0.5)
    assert math.isnan(b_amb.pass_hat_3_lo)  # no task has 3 valid trials
    for score in ["pass^1", "pass^2", "reward", *REWARD_COMPONENTS]:
        lo, hi = interval_columns(score)
        known = table[score].notna()
        assert (table[lo][known] <= table[score][known] + 1e-12).all()
        assert (table[score][known] <= table[hi][known] + 1e-12).all()
    for r in pass_k_long(synthetic).itertuples():
        summary = row(table, r.agent_model, r.variant)
        lo, hi = interval_columns(f"pass^{r.k}")
        assert (r.pass_hat_k_lo, r.pass_hat_k_hi) == (summary[lo], summary[hi])


def test_the_text_table_folds_intervals(synthetic):
    text = format_table(summarize(synthetic))
    assert "0.667 [0.333, 1.000]" in text  # a's pass^1 on base
    assert "_lo" not in text and "_hi" not in text


def test_summarize_on_real_scores(task_set, env):
    task = tasks_of(task_set, "infeasible")[0]
    scored = [
        score_episode(
            task,
            Episode(
                task_id=task.id,
                variant="infeasible",
                agent_model="oracle",
                user_model="script",
                trial=trial,
                messages=conversation(calls, said=["Sorry, I can't do that."]),
                termination_reason="user_stop",
            ),
            env,
        )
        for trial, calls in enumerate([task.gold_calls, [*task.gold_calls, forbidden_call(task)]])
    ]
    r = row(summarize(scored), "oracle", "infeasible")
    assert (r["pass^1"], r["pass^2"], r.forbidden_ok) == pytest.approx((0.5, 0.0, 0.5))


def test_pass_k_matrix_lays_out_agent_by_variant_cells():
    from t2t.benchmark.passk import pass_k_matrix

    episodes = [
        episode(agent, variant, f"{variant}-task", trial, ok)
        for agent, wins in (("a", {"base": 2, "ambiguous": 0}), ("b", {"base": 1, "ambiguous": 2}))
        for variant, won in wins.items()
        for trial, ok in enumerate([True] * won + [False] * (2 - won))
    ]
    matrix = pass_k_matrix(summarize(episodes))
    assert list(matrix.index) == ["a", "b"]
    assert list(matrix.columns) == ["base", "ambiguous", "all"]
    assert matrix.loc["a", "base"] == "1.00 / 1.00"
    assert matrix.loc["b", "base"] == "0.50 / 0.00"
    assert matrix.loc["a", "ambiguous"] == "0.00 / 0.00"
    assert matrix.attrs["title"] == "pass^1 / pass^2 per variant"


def test_infeasible_needs_the_agent_to_say_no_or_transfer(task_set, env):
    task = tasks_of(task_set, "infeasible")[0]
    silent = evaluate_episode(task, conversation(task.gold_calls, said=["All done!"]), env)
    assert (silent.refused_ok, silent.value) == (False, 0.0)
    curly = conversation(task.gold_calls, said=["I\u2019m sorry, I can\u2019t do that."])
    assert evaluate_episode(task, curly, env).refused_ok is True
    transfer = ToolCall(name="transfer_to_human_agents", arguments={"summary": "policy"})
    handed = evaluate_episode(task, conversation([*task.gold_calls, transfer]), env)
    assert handed.refused_ok is True
