"""The tool graph: user table, identity tools and read → argument edges, from schemas + DB."""

import json

import pytest

import t2t
from t2t.core.errors import DomainError
from t2t.core.schema import ToolCall
from t2t.explore import build_tool_graph

DOMAINS = ("retail", "airline", "banking")
EXPECTED = {
    "retail": ("users", {"find_user_id_by_email", "find_user_id_by_name_zip", "get_user_details"}),
    "airline": ("users", {"get_user_details"}),
    "banking": (
        "customers",
        {"find_customer_id_by_email", "find_customer_id_by_name_dob", "get_customer_details"},
    ),
}


@pytest.fixture(scope="module")
def envs():
    found = {}
    for name in DOMAINS:
        domain = t2t.load_domain(name)
        found[name] = domain.environment(domain.generate_db(seed=0, **domain.scales["small"]))
    return found


@pytest.fixture(scope="module")
def graphs(envs):
    return {name: build_tool_graph(env) for name, env in envs.items()}


@pytest.mark.parametrize("name", DOMAINS)
def test_user_table_and_identity_tools_are_found(graphs, name):
    table, identity = EXPECTED[name]
    graph = graphs[name]
    assert graph.user_table == table
    assert set(graph.identity_tools) == identity


@pytest.mark.parametrize("name", DOMAINS)
def test_tools_are_split_by_kind_and_keys_are_the_user_table(envs, graphs, name):
    env, graph = envs[name], graphs[name]
    tools = env.domain.tools
    assert set(graph.read_tools) == {n for n, t in tools.items() if t.kind == "read"}
    assert set(graph.write_tools) == {n for n, t in tools.items() if t.kind == "write"}
    assert graph.user_keys == sorted(env.state[graph.user_table])
    assert set(graph.identity_tools) <= set(graph.read_tools)


@pytest.mark.parametrize("name", DOMAINS)
def test_each_identity_tool_finds_a_user_from_their_own_record(envs, graphs, name):
    env, graph = envs[name], graphs[name]
    key = graph.user_keys[0]
    record = {f"{graph.user_table.removesuffix('s')}_id": key, **env.state[graph.user_table][key]}
    flat = dict(record)
    for value in record.values():
        if isinstance(value, dict):
            flat.update({k: v for k, v in value.items() if isinstance(v, str)})
    for tool in graph.identity_tools:
        arguments = {arg: flat[arg] for arg in graph.required[tool]}
        result = env.run(ToolCall(name=tool, arguments=arguments))
        assert result.ok and key in result.content, (tool, arguments, result)


def test_retail_edges_link_order_items_to_exchanges(graphs):
    edges = set(graphs["retail"].edges())
    assert ("get_order_details", "exchange_delivered_order_items", "item_ids") in edges
    assert ("get_product_details", "exchange_delivered_order_items", "new_item_ids") in edges
    assert ("get_user_details", "cancel_pending_order", "order_id") in edges
    # a lookup by email yields a user id, never an order or an item
    assert ("find_user_id_by_email", "cancel_pending_order", "order_id") not in edges
    assert ("find_user_id_by_email", "exchange_delivered_order_items", "item_ids") not in edges
    assert not any(read == target for read, target, _ in edges)


@pytest.mark.parametrize("name", DOMAINS)
def test_every_write_argument_naming_a_record_is_fed_by_some_read(graphs, name):
    graph = graphs[name]
    for write in graph.write_tools:
        for arg in graph.required[write]:
            if arg.endswith(("_id", "_ids")):
                assert any(graph.feeds(read, arg) for read in graph.read_tools), (write, arg)


def test_graph_is_deterministic(envs, graphs):
    again = build_tool_graph(envs["retail"])
    assert again.identity_tools == graphs["retail"].identity_tools
    assert again.produces == graphs["retail"].produces
    assert again.donors == graphs["retail"].donors


# ------------------------------------------------------------------ bring-your-own domains

TOOLS = '''
from t2t import State, ToolCallError, tool
{extra}


@tool(kind="read")
def find_account_id_by_email(db: State, email: str) -> str:
    """Find an account id by its owner's email.

    Args:
        email: The email, such as 'ann@example.com'.
    """
    for key, record in db["accounts"].items():
        if record["email"] == email:
            return key
    raise ToolCallError("Account not found")


@tool(kind="read")
def get_account(db: State, account_id: str) -> dict:
    """Get an account.

    Args:
        account_id: The account id, such as 'acc_1'.
    """
    if account_id not in db["accounts"]:
        raise ToolCallError("Account not found")
    return dict(db["accounts"][account_id], account_id=account_id)


@tool(kind="write")
def deposit(db: State, account_id: str, amount: float) -> dict:
    """Deposit money into an account.

    Args:
        account_id: The account id, such as 'acc_1'.
        amount: How much to deposit, in dollars.
    """
    if account_id not in db["accounts"]:
        raise ToolCallError("Account not found")
    record = db.edit("accounts", account_id)
    record["balance"] = round(record["balance"] + amount, 2)
    return record
'''

ACCOUNTS = {
    "accounts": {
        "acc_1": {"email": "ann@example.com", "balance": 10.0},
        "acc_2": {"email": "bob@example.com", "balance": 5.0},
    }
}


def _folder(tmp_path, name, *, extra="", db=ACCOUNTS, tools=TOOLS):
    folder = tmp_path / name
    folder.mkdir()
    (folder / "tools.py").write_text(tools.format(extra=extra))
    (folder / "policy.md").write_text("# Accounts\n")
    (folder / "db.json").write_text(json.dumps(db))
    domain = t2t.load_domain(str(folder))
    return domain.environment(domain.default_db())


def test_a_domain_without_a_user_table_names_user_table(tmp_path):
    env = _folder(tmp_path, "ledger")
    with pytest.raises(DomainError, match="USER_TABLE") as caught:
        build_tool_graph(env)
    assert "accounts" in str(caught.value)


def test_the_user_table_can_be_given(tmp_path):
    env = _folder(tmp_path, "ledger")
    graph = build_tool_graph(env, user_table="accounts")
    assert graph.user_table == "accounts"
    assert "find_account_id_by_email" in graph.identity_tools
    assert ("get_account", "deposit", "account_id") in graph.edges()
    assert ("find_account_id_by_email", "deposit", "account_id") in graph.edges()


def test_a_lookup_by_the_record_key_is_an_identity_tool(tmp_path):
    env = _folder(tmp_path, "ledger")
    assert "get_account" in build_tool_graph(env, user_table="accounts").identity_tools


def test_a_user_table_that_is_not_a_table_is_named(tmp_path):
    env = _folder(tmp_path, "ledger")
    with pytest.raises(DomainError, match="USER_TABLE 'clients' is not a table"):
        build_tool_graph(env, user_table="clients")


def test_user_table_set_in_tools_py_is_used(tmp_path):
    env = _folder(tmp_path, "ledger", extra="USER_TABLE = 'accounts'")
    assert build_tool_graph(env).user_table == "accounts"


def test_a_domain_without_write_tools_cannot_be_explored(tmp_path):
    reads_only = TOOLS.split('@tool(kind="write")')[0]
    env = _folder(tmp_path, "readonly", tools=reads_only, db={"users": ACCOUNTS["accounts"]})
    with pytest.raises(DomainError, match="no write tools"):
        build_tool_graph(env)


def test_a_user_table_no_read_can_identify_is_rejected(tmp_path):
    # users live in `users`, but every tool looks in `accounts`: nobody can be authenticated
    db = {"users": {"u1": {"email": "zed@example.com"}}, **ACCOUNTS}
    env = _folder(tmp_path, "orphans", db=db)
    with pytest.raises(DomainError, match="no read tool of orphans finds a user"):
        build_tool_graph(env)
