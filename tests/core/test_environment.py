"""Environment core: calls never raise, forks are isolated, hashes canonical, diffs exact."""

import copy
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from t2t import Domain, Environment, State, ToolCall, ToolCallError, tool
from t2t.core.environment import canonical_json
from t2t.core.tools import make_tool


@tool(kind="write")
def set_field(db: State, table: str, key: str, name: str, value: int) -> dict:
    """Set one field of a record.

    Args:
        table: Table name.
        key: Record id.
        name: Field name.
        value: New value.
    """
    if key not in db[table]:
        raise ToolCallError("Record not found")
    record = db.edit(table, key)
    record[name] = value
    return record


@tool(kind="write")
def add_then_fail(db: State, table: str, key: str) -> str:
    """Write, then refuse: the write must be rolled back.

    Args:
        table: Table name.
        key: Record id.
    """
    db.insert(table, key, {"half": True})
    if key in db[table]:
        db.edit(table, key)["more"] = 1
    raise ToolCallError("refused after writing")


@tool(kind="write")
def bump_then_fail(db: State, table: str, key: str) -> str:
    """Edit a record in place twice, then refuse.

    Args:
        table: Table name.
        key: Record id.
    """
    if key not in db[table]:
        raise ToolCallError("Record not found")
    db.edit(table, key)["value"] += 1
    db.edit(table, key)["tags"].append("x")
    raise ToolCallError("refused after editing")


@tool(kind="write")
def insert(db: State, table: str, key: str, value: int = 0) -> str:
    """Insert or replace a record.

    Args:
        table: Table name.
        key: Record id.
        value: Its value.
    """
    db.insert(table, key, {"value": value, "tags": [value]})
    return "ok"


@tool(kind="write")
def delete(db: State, table: str, key: str) -> str:
    """Delete a record.

    Args:
        table: Table name.
        key: Record id.
    """
    if key not in db[table]:
        raise ToolCallError("Record not found")
    db.delete(table, key)
    return "deleted"


@tool(kind="read")
def count(db: State, table: str) -> int:
    """Count records.

    Args:
        table: Table name.
    """
    return len(db[table])


TOY = Domain(
    name="toy",
    tools={
        t.name: t
        for t in map(make_tool, (set_field, add_then_fail, bump_then_fail, insert, delete, count))
    },
)


def toy_db():
    return {
        "a": {f"k{i}": {"value": i, "tags": [i], "nested": {"x": [i, {"y": i}]}} for i in range(4)},
        "b": {"only": {"value": 1.5}},
    }


def plain_sha(db):
    return hashlib.sha256(canonical_json(db).encode()).hexdigest()


def test_bad_calls_are_tool_errors_not_exceptions():
    env = TOY.environment(toy_db())
    unknown = env.call("nope")
    missing = env.call("set_field", table="a", key="k0")
    wrong_type = env.call("set_field", table="a", key="k0", name="value", value="many")
    extra = env.call("count", table="a", colour="red")
    refused = env.call("set_field", table="a", key="zz", name="value", value=1)
    assert unknown.error == "Tool 'nope' not found."
    assert "name: Field required" in missing.error and "value: Field required" in missing.error
    assert "value:" in wrong_type.error and "integer" in wrong_type.error
    assert "colour" in extra.error
    assert refused.error == "Record not found" and refused.content == "Error: Record not found"
    assert not any(r.ok for r in (unknown, missing, wrong_type, extra, refused))


def test_success_returns_json_content():
    env = TOY.environment(toy_db())
    result = env.run(
        ToolCall(
            name="set_field", arguments=dict(table="a", key="k1", name="value", value=9), id="c1"
        )
    )
    assert result.ok and result.call_id == "c1"
    assert '"value": 9' in result.content
    assert env.call("count", table="a").content == "4"


def test_refused_call_rolls_back_its_writes():
    env = TOY.environment(toy_db())
    env.call("set_field", table="a", key="k0", name="value", value=7)
    before = env.state_hash()
    result = env.call("add_then_fail", table="a", key="k0")
    assert not result.ok
    assert env.state_hash() == before
    assert env.state["a"]["k0"] == {"value": 7, "tags": [0], "nested": {"x": [0, {"y": 0}]}}
    assert not env.call("bump_then_fail", table="a", key="k0").ok  # k0 is owned: edited in place
    assert not env.call("bump_then_fail", table="a", key="k1").ok  # k1 is not: copied first
    assert env.state_hash() == before
    assert env.state["a"]["k0"]["value"] == 7 and env.state["a"]["k0"]["tags"] == [0]
    fresh = env.call("add_then_fail", table="a", key="new")
    assert not fresh.ok and "new" not in env.state["a"]


def test_fork_copies_only_touched_records():
    db = toy_db()
    env = TOY.environment(db)
    child = env.fork()
    child.call("set_field", table="a", key="k2", name="value", value=100)
    assert child.touched() == {("a", "k2")}
    assert child.state["a"]["k1"] is db["a"]["k1"]  # untouched records are shared, not copied
    assert db["a"]["k2"]["value"] == 2 and env.state["a"]["k2"]["value"] == 2


def test_diff_lists_changed_records_only():
    env = TOY.environment(toy_db())
    child = env.fork()
    child.call("set_field", table="a", key="k1", name="value", value=1)  # same value: no change
    child.call("set_field", table="a", key="k3", name="value", value=30)
    child.call("delete", table="a", key="k0")
    child.call("insert", table="b", key="new", value=5)
    changes = {(c.table, c.key): c for c in env.diff(child)}
    assert set(changes) == {("a", "k3"), ("a", "k0"), ("b", "new")}
    assert changes[("a", "k0")].after is None and changes[("b", "new")].before is None
    assert changes[("a", "k3")].after["value"] == 30
    # environments over separate copies of the data compare record by record too
    other = TOY.environment(copy.deepcopy(child.to_dict()))
    assert {(c.table, c.key) for c in env.diff(other)} == set(changes)


def test_hash_ignores_int_float_and_none_spelling():
    first = TOY.environment({"a": {"x": {"v": 1, "gone": None}}})
    second = TOY.environment({"a": {"x": {"v": 1.0}}})
    assert first.state_hash() == second.state_hash()
    assert first.db_sha256() == second.db_sha256()


# ------------------------------------------------------------------------ property tests

keys = st.sampled_from(["k0", "k1", "k2", "k3", "new1", "new2"])
tables = st.sampled_from(["a", "b"])
ops = st.one_of(
    st.builds(
        lambda t, k, v: ToolCall(
            name="set_field", arguments=dict(table=t, key=k, name="value", value=v)
        ),
        tables,
        keys,
        st.integers(-3, 3),
    ),
    st.builds(
        lambda t, k, v: ToolCall(name="insert", arguments=dict(table=t, key=k, value=v)),
        tables,
        keys,
        st.integers(-3, 3),
    ),
    st.builds(lambda t, k: ToolCall(name="delete", arguments=dict(table=t, key=k)), tables, keys),
    st.builds(
        lambda t, k: ToolCall(name="add_then_fail", arguments=dict(table=t, key=k)), tables, keys
    ),
    st.builds(
        lambda t, k: ToolCall(name="bump_then_fail", arguments=dict(table=t, key=k)), tables, keys
    ),
)


def apply_plain(db, call):
    """Reference semantics on a deep copy: what the environment must be equivalent to."""
    a = call.arguments
    table = db[a["table"]]
    if call.name == "set_field" and a["key"] in table:
        table[a["key"]]["value"] = a["value"]
    elif call.name == "insert":
        table[a["key"]] = {"value": a["value"], "tags": [a["value"]]}
    elif call.name == "delete" and a["key"] in table:
        del table[a["key"]]


@settings(max_examples=150, deadline=None)
@given(st.lists(ops, max_size=8), st.lists(ops, max_size=8), st.lists(ops, max_size=8))
def test_forks_never_change_their_parent_and_match_a_deep_copy(before, child_ops, later):
    db = toy_db()
    pristine = copy.deepcopy(db)
    parent = TOY.environment(db)
    reference = copy.deepcopy(db)
    for call in before:
        parent.run(call)
        apply_plain(reference, call)
    parent_view = copy.deepcopy(parent.to_dict())
    child = parent.fork()
    child_reference = copy.deepcopy(reference)
    for call in child_ops:
        child.run(call)
        apply_plain(child_reference, call)
    assert parent.to_dict() == parent_view  # the child's writes never reach the parent
    for call in later:  # nor do the parent's later writes reach the child
        parent.run(call)
        apply_plain(reference, call)
    assert child.to_dict() == child_reference
    assert parent.to_dict() == reference
    assert db == pristine  # the loaded data itself is never mutated
    assert child.db_sha256() == plain_sha(child_reference)
    assert parent.db_sha256() == plain_sha(reference)


@settings(max_examples=150, deadline=None)
@given(st.lists(ops, max_size=8), st.lists(ops, max_size=8))
def test_equal_states_iff_equal_hashes(first_ops, second_ops):
    root = TOY.environment(toy_db())
    first, second = root.fork(), root.fork()
    for call in first_ops:
        first.run(call)
    for call in second_ops:
        second.run(call)
    same_content = canonical_json(first.to_dict()) == canonical_json(second.to_dict())
    assert (first.state_hash() == second.state_hash()) == same_content
    assert (first.diff(second) == []) == same_content
    rebuilt = TOY.environment(copy.deepcopy(first.to_dict()))  # a fresh root, same content
    assert rebuilt.state_hash() == first.state_hash()


@settings(max_examples=100, deadline=None)
@given(st.lists(ops, max_size=10))
def test_replay_is_deterministic(calls):
    from t2t import replay_calls

    env = TOY.environment(toy_db())
    first, first_result = replay_calls(env, calls)
    second, second_result = replay_calls(env, calls)
    assert first_result == second_result
    assert first.to_dict() == second.to_dict()
    assert env.touched() == set()


@pytest.mark.parametrize("bad", [[], {"a": []}, {"a": {"k": 1}, "b": 3}])
def test_non_table_databases_are_rejected(bad):
    with pytest.raises(TypeError):
        Environment(TOY, bad)


def test_inserted_records_are_private_copies():
    db = toy_db()
    env = TOY.environment(db)
    read = env.state["a"]["k0"]
    env.state.insert("a", "copy1", read)
    env.state.insert("a", "copy2", read)
    env.state.edit("a", "copy1")["value"] = 99
    assert db["a"]["k0"]["value"] == 0 and env.state["a"]["copy2"]["value"] == 0


def test_editing_a_deleted_record_is_a_key_error():
    env = TOY.environment(toy_db())
    env.state.delete("a", "k0")
    with pytest.raises(KeyError):
        env.state.edit("a", "k0")


def test_diff_returns_snapshots():
    env = TOY.environment(toy_db())
    child = env.fork()
    child.call("set_field", table="a", key="k0", name="value", value=1)
    change = env.diff(child)[0]
    child.call("set_field", table="a", key="k0", name="value", value=2)
    assert change.after["value"] == 1
    change.after["value"] = 3
    assert child.state["a"]["k0"]["value"] == 2


def test_a_table_view_sees_later_writes():
    env = TOY.environment(toy_db())
    view = env.state["b"]
    env.state.edit("b", "only")["value"] = 5
    assert view["only"]["value"] == 5 and dict(view.items())["only"]["value"] == 5


def test_hashes_and_diffs_agree_on_spelling_and_tables():
    left = TOY.environment({"a": {"x": {"v": True, "z": -0.0}}})
    right = TOY.environment({"a": {"x": {"v": 1, "z": 0.0}}})
    assert (left.state_hash() == right.state_hash()) == (left.diff(right) == [])
    extra_table = TOY.environment({"a": {"x": {"v": True, "z": -0.0}}, "b": {}})
    assert extra_table.state_hash() != left.state_hash()
    assert extra_table.db_sha256() != left.db_sha256()


def test_a_tool_bug_rolls_back_and_raises():
    @tool(kind="write")
    def buggy(db: State, key: str) -> str:
        """Write, then crash.

        Args:
            key: Record id.
        """
        db.edit("a", key)["value"] = 99
        raise RuntimeError("bug in the tool")

    domain = Domain(name="buggy", tools={"buggy": make_tool(buggy)})
    env = domain.environment(toy_db())
    with pytest.raises(RuntimeError, match="bug in the tool"):
        env.call("buggy", key="k0")
    assert env.state["a"]["k0"]["value"] == 0 and env.touched() == set()


def test_rules_see_arguments_as_the_tool_does():
    from t2t.core.tools import Rule

    def too_big(db, call):
        value = call.arguments.get("value")
        return "too big" if isinstance(value, int) and value > 10 else None

    domain = Domain(
        name="ruled",
        tools=TOY.tools,
        rules=[Rule("too_big", frozenset({"set_field"}), too_big)],
    )
    env = domain.environment(toy_db())
    as_text = ToolCall(
        name="set_field", arguments=dict(table="a", key="k0", name="value", value="20")
    )
    assert env.check_rules(as_text) == [("too_big", "too big")]  # "20" is coerced to 20 first
    invalid = ToolCall(name="set_field", arguments=dict(table="a", key="k0", value="many"))
    assert env.check_rules(invalid) == []  # the tool refuses it anyway
