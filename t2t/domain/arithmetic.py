"""τ²-bench's `calculate` tool semantics without `eval`: arithmetic on numbers only.

Domains share it (`t2t.domain.arithmetic.calculate_expression`) so every `calculate` tool
answers the same way: the result rounded to 2 decimals as a string, τ²'s error messages, and no
way to hang the process (an integer power too large to compute at once is taken in floating point).
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from typing import Any

from t2t.core.errors import ToolCallError

__all__ = ["calculate_expression"]

_ALLOWED = set("0123456789+-*/(). ")
_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Pow: lambda base, exponent: _power(base, exponent),
}
_MAX_EXACT_BITS = 1 << 20  # an exact integer power up to ~1M bits is instant; beyond, use floats


def _power(base: Any, exponent: Any) -> Any:
    """τ²'s `eval` result where it is cheap (exact ints), floating point where it would hang."""
    if type(base) is int and type(exponent) is int and exponent >= 0:
        if max(base.bit_length(), 1) * exponent <= _MAX_EXACT_BITS:
            return base**exponent
    return float(base) ** exponent


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
        return str(round(float(_evaluate(ast.parse(expression, "<string>", "eval"))), 2))
    except SyntaxError as exc:  # τ²'s message: its eval parses the same way
        raise ToolCallError(str(exc)) from None
    except (ArithmeticError, TypeError, ValueError, RecursionError, MemoryError) as exc:
        raise ToolCallError(str(exc) or type(exc).__name__) from None
