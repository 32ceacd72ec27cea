"""Domain folders: bring-your-own loading by path, and broken folders named in the error."""

import json

import pytest

from t2t import DomainError, Task, load_domain, verify_task
from t2t.cli import main

TOOLS = '''
from t2t import State, ToolCallError, tool
from .helpers import account


@tool(kind="read")
def get_balance(db: State, account_id: str) -> float:
    """Get an account's balance.

    Args:
        account_id: The account id, such as 'acc_1'.
    """
    return account(db, account_id)["balance"]


@tool(kind="write")
def deposit(db: State, account_id: str, amount: float) -> dict:
    """Deposit money into an account.

    Args:
        account_id: The account id, such as 'acc_1'.
        amount: How much to deposit, in dollars.
    """
    if amount <= 0:
        raise ToolCallError("Amount must be positive")
    account(db, account_id)
    record = db.edit("accounts", account_id)
    record["balance"] = round(record["balance"] + amount, 2)
    return record
'''

HELPERS = """
from t2t import ToolCallError


def account(db, account_id):
    if account_id not in db["accounts"]:
        raise ToolCallError("Account not found")
    return db["accounts"][account_id]
"""

RULES = '''
from t2t import rule


@rule("deposit")
def deposit_limit(db, call):
    """Deposits above 1,000 need a human."""
    amount = call.arguments.get("amount")
    if isinstance(amount, int | float) and amount > 1000:
        return f"deposit of {amount} is above the 1000 limit"
    return None
'''


@pytest.fixture
def bank(tmp_path):
    folder = tmp_path / "bank"
    folder.mkdir()
    (folder / "tools.py").write_text(TOOLS)
    (folder / "helpers.py").write_text(HELPERS)
    (folder / "rules.py").write_text(RULES)
    (folder / "policy.md").write_text("# Bank\nBe nice.\n")
    (folder / "db.json").write_text(json.dumps({"accounts": {"acc_1": {"balance": 10.0}}}))
    return folder


def bank_task(calls):
    return Task.model_validate(
        {
            "id": "t1",
            "user_scenario": {
                "instructions": {
                    "domain": "bank",
                    "reason_for_call": "deposit",
                    "task_instructions": "-",
                }
            },
            "evaluation_criteria": {
                "actions": [{"action_id": str(i), **c} for i, c in enumerate(calls)]
            },
        }
    )


def test_a_folder_is_a_domain(bank):
    domain = load_domain(str(bank))
    assert domain.name == "bank" and set(domain.tools) == {"get_balance", "deposit"}
    assert domain.tools["deposit"].mutates and not domain.tools["get_balance"].mutates
    schema = domain.tools["deposit"].openai_schema()["function"]
    assert schema["parameters"]["properties"]["amount"] == {
        "type": "number",
        "description": "How much to deposit, in dollars.",
    }
    assert schema["parameters"]["required"] == ["account_id", "amount"]
    assert schema["description"] == "Deposit money into an account."
    env = domain.environment(domain.default_db())
    good = bank_task([{"name": "deposit", "arguments": {"account_id": "acc_1", "amount": 5}}])
    bad = bank_task([{"name": "deposit", "arguments": {"account_id": "acc_9", "amount": 5}}])
    assert verify_task(good, env).ok and verify_task(good, env).writes == 1
    verdict = verify_task(bad, env)
    assert not verdict.ok and verdict.errors[0].error == "Account not found"
    from t2t import ToolCall

    assert env.check_rules(
        ToolCall(name="deposit", arguments={"account_id": "acc_1", "amount": 5000})
    ) == [("deposit_limit", "deposit of 5000.0 is above the 1000 limit")]  # as the tool sees it


def test_cli_verifies_tasks_of_a_folder_domain(bank, tmp_path, capsys):
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text(
        bank_task(
            [{"name": "deposit", "arguments": {"account_id": "acc_1", "amount": 1}}]
        ).model_dump_json()
        + "\n"
    )
    assert main(["verify", "--domain", str(bank), "--tasks", str(tasks), "--quiet"]) == 0
    assert "1/1 tasks replay cleanly" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("file", "content", "message"),
    [
        ("tools.py", "def broken(:\n", "tools.py: cannot be loaded: SyntaxError"),
        ("tools.py", "x = 1\n", "tools.py: no functions marked with @tool"),
        (
            "rules.py",
            "import not_a_module_anywhere\n",
            "rules.py: cannot be loaded: ModuleNotFoundError",
        ),
        ("policy.md", None, "policy.md: missing"),
        ("tools.py", None, "needs a tools.py"),
    ],
)
def test_broken_folders_name_the_file(bank, file, content, message):
    if content is None:
        (bank / file).unlink()
    else:
        (bank / file).write_text(content)
    with pytest.raises(DomainError, match=message.replace("(", r"\(")):
        load_domain(str(bank))


def test_broken_db_json_names_the_file(bank, capsys, tmp_path):
    (bank / "db.json").write_text("{oops")
    tasks = tmp_path / "t.jsonl"
    tasks.write_text(bank_task([]).model_dump_json() + "\n")
    code = main(["verify", "--domain", str(bank), "--tasks", str(tasks), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "db.json" in err and "not valid JSON" in err


def test_a_folder_without_data_is_refused(bank):
    (bank / "db.json").unlink()
    with pytest.raises(DomainError, match="needs a db.json or a generate.py"):
        load_domain(str(bank))


def test_retail_is_built_in():
    from t2t import builtin_domains

    assert "retail" in builtin_domains()
    retail = load_domain("retail")
    assert retail.generate_db is not None and retail.check_db is not None
    assert "Identity first" in retail.policy
    assert {"paper", "small"} <= set(retail.scales)


def test_similar_paths_load_their_own_tools(bank, tmp_path):
    twin = tmp_path / "b_c"
    nested = tmp_path / "b" / "c"
    for folder, tool_name in ((twin, "tool_one"), (nested, "tool_two")):
        folder.mkdir(parents=True)
        (folder / "tools.py").write_text(
            f"from t2t import tool\n\n\n@tool(kind='read')\ndef {tool_name}(db) -> str:\n"
            f"    '''Say hi.'''\n    return 'hi'\n"
        )
        (folder / "policy.md").write_text("# p\n")
        (folder / "db.json").write_text("{}")
    assert set(load_domain(str(twin)).tools) == {"tool_one"}
    assert set(load_domain(str(nested)).tools) == {"tool_two"}


def test_relative_paths_resolve_from_the_current_folder(bank, tmp_path, monkeypatch):
    other = tmp_path / "elsewhere" / "bank"
    other.mkdir(parents=True)
    (other / "tools.py").write_text((bank / "tools.py").read_text().replace("get_balance", "peek"))
    (other / "helpers.py").write_text(HELPERS)
    (other / "policy.md").write_text("# p\n")
    (other / "db.json").write_text((bank / "db.json").read_text())
    monkeypatch.chdir(tmp_path)
    assert "get_balance" in load_domain("./bank").tools
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert "peek" in load_domain("./bank").tools


def test_a_local_folder_does_not_shadow_a_built_in(tmp_path, monkeypatch):
    (tmp_path / "retail").mkdir()
    monkeypatch.chdir(tmp_path)
    assert "cancel_pending_order" in load_domain("retail").tools


def test_unresolvable_annotations_name_tools_py(bank):
    (bank / "tools.py").write_text(
        "from typing import TYPE_CHECKING\nfrom t2t import tool\nif TYPE_CHECKING:\n"
        "    from x import Thing\n\n\n@tool(kind='read')\ndef f(db, thing: 'Thing') -> str:\n"
        "    '''Doc.\n\n    Args:\n        thing: A thing.\n    '''\n    return ''\n"
    )
    with pytest.raises(DomainError, match="tools.py: bad tool signature"):
        load_domain(str(bank))
