"""The shared `calculate` semantics, through every built-in domain's `calculate` tool."""

import pytest

from t2t import builtin_domains, load_domain

RESULTS = [
    ("2 + 3 * 4", "14.0"),
    ("10 / 4", "2.5"),
    ("1 / 3", "0.33"),
    ("10 / 3", "3.33"),
    ("1200 - 45.5", "1154.5"),
    ("(1 + 2) * -3", "-9.0"),
    ("7", "7.0"),
    ("2 ** 3", "8.0"),
    ("7 // 2", "3.0"),
    ("2 ** -1", "0.5"),
]
ERRORS = [
    ("2 ^ 3", "Invalid characters in expression"),
    ("__import__('os')", "Invalid characters in expression"),
    ("x + 1", "Invalid characters in expression"),
    ("1 / 0", "division by zero"),
    ("(2 + 1) / (3 - 3)", "division by zero"),
    ("2 +", "invalid syntax (<string>, line 1)"),
    ("1.5.2", "invalid syntax (<string>, line 1)"),
    ("10 ** 400", "int too large to convert to float"),
    ("(0 - 8) ** 0.5", "float() argument must be a string or a real number, not 'complex'"),
    ("((9**64)**64)**64", "int too large to convert to float"),  # refused at once, no hang
]


@pytest.fixture(scope="module", params=builtin_domains())
def env(request):
    domain = load_domain(request.param)
    return domain.environment(
        {table: {} for table in domain.generate_db(seed=0, **domain.scales["small"])}
    )


@pytest.mark.parametrize(("expression", "expected"), RESULTS)
def test_calculate(env, expression, expected):
    result = env.call("calculate", expression=expression)
    assert result.ok and result.content == expected


@pytest.mark.parametrize(("expression", "error"), ERRORS)
def test_calculate_errors(env, expression, error):
    result = env.call("calculate", expression=expression)
    assert not result.ok and result.error == error
    assert env.touched() == set()
