"""The generic tools τ²-bench's domains share, word for word, for domains to import.

A domain's `tools.py` that imports `calculate` and `transfer_to_human_agents` from here
offers them like its own (the loader collects every `@tool` function the module holds).
"""

from __future__ import annotations

from t2t.core.environment import State
from t2t.core.tools import tool
from t2t.domain.arithmetic import calculate_expression

__all__ = ["calculate", "transfer_to_human_agents"]


@tool(kind="generic")
def calculate(db: State, expression: str) -> str:
    """Calculate the result of a mathematical expression.

    Args:
        expression: The mathematical expression to calculate, such as '2 + 2'. The expression can contain numbers, operators (+, -, *, /), parentheses, and spaces.
    """  # noqa: E501
    return calculate_expression(expression)


@tool(kind="generic")
def transfer_to_human_agents(db: State, summary: str) -> str:
    """Transfer the user to a human agent, with a summary of the user's issue.

    Only transfer if
     -  the user explicitly asks for a human agent
     -  given the policy and the available tools, you cannot solve the user's issue.

    Args:
        summary: A summary of the user's issue.
    """
    return "Transfer successful"
