"""The domain contract, checked on every built-in domain: no per-domain code, no registry edit.

Loading, schemas, seeded generation, consistency, and property tests of the environment core
(fork isolation, canonical hashing, exact diffs, deterministic replay) under random plausible calls.
"""

import copy
import hashlib
import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from t2t import builtin_domains, load_domain, replay_calls
from t2t.core.environment import canonical_json
from t2t.explore.values import ValuePool, random_call

DOMAINS = builtin_domains()


@pytest.fixture(scope="module", params=DOMAINS)
def domain(request):
    return load_domain(request.param)


@pytest.fixture(scope="module")
def small_db(domain):
    return domain.generate_db(seed=3, **domain.scales["small"])


@pytest.fixture(scope="module")
def pool(small_db):
    return ValuePool(small_db)


def test_domain_has_tools_policy_rules_and_schemas(domain):
    kinds = {tool.kind for tool in domain.tools.values()}
    assert {"read", "write"} <= kinds
    assert len(domain.policy) > 500 and len(domain.rules) >= 6
    for tool in domain.tools.values():
        schema = tool.openai_schema()["function"]
        assert schema["name"] == tool.name and schema["description"], tool.name
        for name, prop in schema["parameters"].get("properties", {}).items():
            assert prop.get("description") or "$ref" in prop or "items" in prop, (tool.name, name)
    for rule in domain.rules:
        assert rule.description and rule.tools <= set(domain.tools), rule.name


def test_generated_db_is_valid_consistent_and_seeded(domain, small_db):
    assert domain.check_db(small_db) == []
    domain.validate_db(small_db)
    again = domain.generate_db(seed=3, **domain.scales["small"])
    assert json.dumps(again, indent=2) == json.dumps(small_db, indent=2)
    other = domain.generate_db(seed=4, **domain.scales["small"])
    assert canonical_json(other) != canonical_json(small_db)
    assert {"paper", "small"} <= set(domain.scales)


def test_random_calls_never_raise_and_some_succeed(domain, small_db, pool):
    env = domain.environment(small_db)
    rng = random.Random(0)
    results = [env.fork().run(random_call(domain, pool, rng)) for _ in range(600)]
    ok = {r.name for r in results if r.ok}
    assert ok & {t.name for t in domain.tools.values() if t.kind == "read"}
    assert ok & domain.write_tools
    assert all(r.ok or r.content.startswith("Error: ") for r in results)


def plain_sha(db):
    return hashlib.sha256(canonical_json(db).encode()).hexdigest()


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), n_parent=st.integers(0, 15), n_child=st.integers(1, 30))
def test_forks_hashes_and_diffs_under_random_calls(domain, small_db, pool, seed, n_parent, n_child):
    rng = random.Random(seed)
    pristine = copy.deepcopy(small_db)
    parent = domain.environment(small_db)
    for _ in range(n_parent):
        parent.run(random_call(domain, pool, rng))
    parent_view = copy.deepcopy(parent.to_dict())
    parent_hash = parent.state_hash()
    calls = [random_call(domain, pool, rng) for _ in range(n_child)]
    child, replay = replay_calls(parent, calls)
    again, replay_again = replay_calls(parent, calls)  # replay is deterministic
    assert replay == replay_again and again.to_dict() == child.to_dict()
    assert parent.to_dict() == parent_view and parent.state_hash() == parent_hash
    assert small_db == pristine  # the loaded data is never mutated
    # hashes are canonical: the same content loaded afresh hashes the same, both ways
    child_dict = child.to_dict()
    fresh = domain.environment(copy.deepcopy(child_dict))
    assert fresh.state_hash() == child.state_hash()
    assert child.db_sha256() == plain_sha(child_dict) == fresh.db_sha256()
    assert (child.state_hash() == parent.state_hash()) == (
        canonical_json(child_dict) == canonical_json(parent_view)
    )
    # the diff names exactly the records whose content differs
    changes = {(c.table, c.key) for c in parent.diff(child)}
    expected = {
        (table, key)
        for table in child_dict
        for key in set(child_dict[table]) | set(parent_view[table])
        if canonical_json(child_dict[table].get(key)) != canonical_json(parent_view[table].get(key))
    }
    assert changes == expected
    assert {(c.table, c.key) for c in parent.diff(fresh)} == expected  # across roots too


def _schema_keys(domain):
    """Every property name in the domain's tool schemas, nested models included."""
    keys = set()
    for tool in domain.tools.values():
        schema = tool.arguments.model_json_schema()
        for part in [schema, *schema.get("$defs", {}).values()]:
            keys |= set(part.get("properties", {}))
    return sorted(keys)


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_rules_never_raise_or_write_on_garbage_arguments(domain, small_db, pool, data):
    ids = sorted({str(v) for values in pool.values.values() for v in values})
    scalars = st.one_of(
        st.sampled_from(ids),
        st.text(max_size=6),
        st.integers(),
        st.floats(),
        st.booleans(),
        st.none(),
    )
    keys = st.sampled_from([*_schema_keys(domain), "junk"])
    values = st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
        max_leaves=8,
    )
    ruled = sorted({name for rule in domain.rules for name in rule.tools})
    name = data.draw(st.sampled_from(ruled))
    arguments = data.draw(st.dictionaries(keys, values, max_size=6))
    env = domain.environment(small_db)
    from t2t import ToolCall

    reasons = env.check_rules(ToolCall(name=name, arguments=arguments))
    assert all(isinstance(rule, str) and isinstance(why, str) for rule, why in reasons)
    assert env.touched() == set()
