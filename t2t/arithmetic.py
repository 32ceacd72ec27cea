"""τ²-bench's `calculate` tool semantics without `eval`: arithmetic on numbers only.

Domains share it (`from t2t.arithmetic import calculate_expression`) so every `calculate` tool
answers the same way: the result rounded to 2 decimals as a string, τ²'s error messages, and no
way to hang the process (powers are computed in floating point).
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from typing import Any

from t2t.errors import ToolCallError

__all__ = ["calculate_expression"]

_ALLOWED = set("0123456789+-*/(). ")
_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Pow: lambda base, exponent: float(base) ** exponent,  # bounded, unlike int powers
}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos}


def _evaluate(node: ast.AST) -> Any:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return _BINARY[type(node.op)](_evaluate(node.left), _evaluate(node.right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_evaluate(node.operand))
    raise ToolCallError("Invalid expression")


def calculate_expression(expression: str) -> str:
    """Evaluate `+ - * / // **` and parentheses over numbers; refuse anything else."""
    if not all(char in _ALLOWED for char in expression):
        raise ToolCallError("Invalid characters in expression")
    try:
        return str(round(float(_evaluate(ast.parse(expression, mode="eval"))), 2))
    except SyntaxError:
        raise ToolCallError("Invalid expression") from None
    except (ArithmeticError, TypeError, ValueError, RecursionError, MemoryError) as exc:
        raise ToolCallError(str(exc) or type(exc).__name__) from None
