"""Bootstrap intervals over tasks and paired differences, on values whose answer is known."""

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from t2t.benchmark.uncertainty import bootstrap_ci, format_interval, paired_difference


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=60), st.integers(0, 99))
def test_the_interval_contains_the_mean(values, seed):
    lo, hi = bootstrap_ci(values, n_resamples=200, seed=seed)
    mean = math.fsum(values) / len(values)
    assert lo <= mean + 1e-12 and mean - 1e-12 <= hi
    assert min(values) <= lo and hi <= max(values)


def test_all_successes_give_one_to_one():
    assert bootstrap_ci([1.0] * 40) == (1.0, 1.0)
    assert bootstrap_ci([0.25] * 7) == (0.25, 0.25)


def test_half_of_100_tasks_is_half_give_or_take_a_tenth():
    values = [1.0, 0.0] * 50
    lo, hi = bootstrap_ci(values)
    half_width = 1.96 * math.sqrt(0.5 * 0.5 / 100)  # normal approximation: 0.098
    assert lo == pytest.approx(0.5 - half_width, abs=0.03)
    assert hi == pytest.approx(0.5 + half_width, abs=0.03)


def test_a_wider_confidence_gives_a_wider_interval():
    rng = random.Random(3)
    values = [rng.random() for _ in range(50)]
    narrow = bootstrap_ci(values, confidence=0.5)
    wide = bootstrap_ci(values, confidence=0.99)
    assert wide.lo < narrow.lo and narrow.hi < wide.hi


@pytest.mark.parametrize("values", [[0.0, 1.0] * 30, [(i * 0.37) % 1 for i in range(80)]])
def test_the_same_seed_gives_the_same_interval(values):
    assert bootstrap_ci(values, seed=7) == bootstrap_ci(values, seed=7)
    others = {bootstrap_ci(values, n_resamples=50, seed=seed) for seed in range(5)}
    assert len(others) > 1  # the seed does drive the resampling


def test_one_task_is_its_point_and_none_is_nan():
    assert bootstrap_ci([0.4]) == (0.4, 0.4)
    assert all(math.isnan(x) for x in bootstrap_ci([]))
    assert all(math.isnan(x) for x in bootstrap_ci([math.nan]))
    assert bootstrap_ci([math.nan, 1.0, 1.0]) == (1.0, 1.0)  # NaN: the score does not apply


@pytest.mark.parametrize(
    "bad", [{"n_resamples": 0}, {"confidence": 0.0}, {"confidence": 1.0}, {"confidence": 95}]
)
def test_bad_settings_are_refused(bad):
    with pytest.raises(ValueError):
        bootstrap_ci([0.0, 1.0], **bad)


def test_many_distinct_values_and_few_give_the_same_coverage():
    rng = random.Random(5)
    few = [float(rng.random() < 0.3) for _ in range(400)]  # two distinct values
    many = [x + rng.uniform(-1e-9, 1e-9) for x in few]  # 400 distinct values, the same mean
    a, b = bootstrap_ci(few), bootstrap_ci(many)
    assert a.lo == pytest.approx(b.lo, abs=0.015) and a.hi == pytest.approx(b.hi, abs=0.015)


def test_identical_models_differ_by_zero():
    scores = {f"t{i}": random.Random(i).random() for i in range(30)}
    assert paired_difference(scores, dict(scores)) == (0.0, 0.0, 0.0)


def test_pairing_by_task_is_tighter_than_two_separate_intervals():
    rng = random.Random(11)
    hardness = {f"t{i}": rng.random() for i in range(200)}  # both models find the same tasks hard
    a = {t: h + 0.05 + rng.gauss(0, 0.02) for t, h in hardness.items()}
    b = dict(hardness)
    mean, lo, hi = paired_difference(a, b)
    a_lo, a_hi = bootstrap_ci(a.values())
    b_lo, b_hi = bootstrap_ci(b.values())
    unpaired = math.hypot(a_hi - a_lo, b_hi - b_lo)  # width of a difference of independent means
    assert hi - lo < unpaired / 5
    assert lo <= mean <= hi
    assert mean == pytest.approx(sum(a.values()) / 200 - sum(b.values()) / 200)


def test_a_model_better_on_every_task_has_a_positive_lower_bound():
    rng = random.Random(2)
    b = {f"t{i}": rng.random() * 0.8 for i in range(25)}
    a = {t: v + rng.uniform(0.01, 0.2) for t, v in b.items()}
    mean, lo, hi = paired_difference(a, b)
    assert 0 < lo <= mean <= hi


def test_a_model_better_on_a_few_tasks_only_is_not_called_better():
    b = {f"t{i}": 0.0 for i in range(20)}
    a = {**b, "t0": 1.0}
    mean, lo, hi = paired_difference(a, b)
    assert mean == pytest.approx(1 / 20) and lo == 0.0 < hi


def test_pairs_are_the_tasks_both_have():
    a = {"x": 1.0, "y": 1.0, "only-a": 0.0, "nan": math.nan}
    b = {"x": 0.0, "y": 0.0, "only-b": 1.0, "nan": 0.0}
    assert paired_difference(a, b) == (1.0, 1.0, 1.0)
    assert all(math.isnan(x) for x in paired_difference({"x": 1.0}, {"y": 1.0}))


def test_the_same_pairs_in_another_order_give_the_same_interval():
    rng = random.Random(4)
    a = {f"t{i}": rng.random() for i in range(50)}
    b = {f"t{i}": rng.random() for i in range(50)}
    reversed_a = dict(reversed(list(a.items())))
    assert paired_difference(a, b) == paired_difference(reversed_a, b)


def test_format_interval():
    assert format_interval(0.4213, 0.25, 0.5799) == "0.42 [0.25, 0.58]"
    assert format_interval(0.5, 0.4, 0.6, digits=3) == "0.500 [0.400, 0.600]"
    assert format_interval(0.5, math.nan, math.nan) == "0.50"
    assert format_interval(math.nan, math.nan, math.nan) == "-"
