"""The two small languages of a design file: ``${...}`` values and the ``up`` expression.

Both are parsed with :mod:`ast` and walked by hand over a short list of allowed
node types, so nothing in a file is ever executed: no ``eval``, no attribute
access, no imports.

* ``${expr}`` computes a value from the parameters: numbers, strings, names of
  parameters, ``+ - * / // %``, unary minus, and the functions ``min``, ``max``,
  ``int``, ``float``, ``round`` and ``abs``. ``"${workers}"`` keeps the
  parameter's type; ``"web-${i}"`` interpolates text.
* The ``up`` expression is a structure: component names, groups (``web`` for
  ``web0..webN-1``), ``&`` (all), ``|`` (any), ``all_of(...)``, ``any_of(...)``,
  ``k_of_n(k, ...)``, ``majority(...)``, ``replicas(store)`` and
  ``serving(store)``.
"""

from __future__ import annotations

import ast
import difflib
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["ExprError", "evaluate", "substitute", "parse_structure", "suggest", "FUNCTIONS"]

_PLACEHOLDER = re.compile(r"\$\{([^{}]*)\}")


class ExprError(Exception):
    """A bad ``${...}`` or ``up`` expression: the reason, in words (the loader adds where)."""


def suggest(word: str, known: Any) -> str:
    """``" (did you mean 'x'?)"`` for the closest of ``known``, or ``""``."""
    names = [str(k) for k in known]
    close = difflib.get_close_matches(word, names, n=1, cutoff=0.6)
    if not close and len(word) >= 3:  # an abbreviation: "expo" for "exponential"
        close = [name for name in names if name.startswith(word)][:1]
    return f" (did you mean {close[0]!r}?)" if close else ""


_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos}
_CALLS: dict[str, Callable[..., Any]] = {
    "min": min,
    "max": max,
    "int": int,
    "float": float,
    "round": round,
    "abs": abs,
}


def evaluate(text: str, scope: Callable[[str], Any] | Mapping[str, Any]) -> Any:
    """The value of one ``${...}`` body.

    Args:
        text: the expression between ``${`` and ``}``, e.g. ``"max(1, servers - 1)"``.
        scope: name -> value (a mapping, or a function raising KeyError for unknown names).

    Raises:
        ExprError: a syntax error, a construct that is not allowed, an unknown name.
    """
    lookup = scope.__getitem__ if isinstance(scope, Mapping) else scope
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as error:
        raise ExprError(f"'${{{text}}}' is not a valid expression ({error.msg})") from None

    def walk(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str)):
            return node.value
        if isinstance(node, ast.Name):
            return lookup(node.id)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            left, right = walk(node.left), walk(node.right)
            try:
                return _BINARY[type(node.op)](left, right)
            except (TypeError, ZeroDivisionError) as error:
                raise ExprError(f"'${{{text}}}': {error}") from None
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            try:
                return _UNARY[type(node.op)](walk(node.operand))
            except TypeError as error:
                raise ExprError(f"'${{{text}}}': {error}") from None
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in _CALLS
            and not node.keywords
        ):
            args = [walk(a) for a in node.args]
            try:
                return _CALLS[node.func.id](*args)
            except (TypeError, ValueError) as error:
                raise ExprError(f"'${{{text}}}': {error}") from None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            allowed = ", ".join(_CALLS)
            raise ExprError(
                f"'${{{text}}}' calls {node.func.id}(), which is not one of {allowed}"
                + suggest(node.func.id, _CALLS)
            )
        raise ExprError(
            f"'${{{text}}}' may hold only numbers, parameter names, + - * / // %, "
            f"and {', '.join(_CALLS)}()"
        )

    return walk(tree)


def substitute(value: Any, scope: Callable[[str], Any] | Mapping[str, Any]) -> Any:
    """``value`` with every ``${...}`` replaced, inside lists and tables too.

    A string that is exactly one ``${...}`` becomes the value itself (a number
    stays a number); otherwise each placeholder is replaced by its text.
    """
    if isinstance(value, str):
        whole = _PLACEHOLDER.fullmatch(value.strip())
        if whole:
            return evaluate(whole[1], scope)
        if "${" not in value:
            return value
        text = _PLACEHOLDER.sub(lambda m: _text(evaluate(m[1], scope)), value)
        if "${" in text:
            raise ExprError(f"{value!r} has an unclosed or nested '${{'")
        return text
    if isinstance(value, list):
        return [substitute(item, scope) for item in value]
    if isinstance(value, dict):
        return {key: substitute(item, scope) for key, item in value.items()}
    return value


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return repr(value)
    return str(value)


def placeholders(value: Any) -> list[str]:
    """The ``${...}`` bodies in ``value`` (a string, list or table)."""
    if isinstance(value, str):
        return _PLACEHOLDER.findall(value)
    if isinstance(value, list):
        return [p for item in value for p in placeholders(item)]
    if isinstance(value, dict):
        return [p for item in value.values() for p in placeholders(item)]
    return []


# -- the up expression ------------------------------------------------------------------------


#: The functions an ``up`` expression may call, with what they take.
FUNCTIONS = {
    "all_of": "all_of(a, b, ...): up while every input is up",
    "any_of": "any_of(a, b, ...): up while any input is up",
    "k_of_n": "k_of_n(k, a, b, ...): up while at least k inputs are up",
    "majority": "majority(a, b, ...): up while more than half the inputs are up",
    "replicas": "replicas(store): the store's replicas (or Raft nodes), as a group",
    "serving": "serving(store): the store can serve reads and writes",
}


def parse_structure(
    text: str,
    resolve: Callable[[str], Any],
    serving: Callable[[Any], Any],
    replicas: Callable[[Any], list[Any]],
) -> Any:
    """The ``up`` expression ``text`` as a ``hasim.Structure`` (or a predicate).

    Args:
        text: e.g. ``"lb & k_of_n(2, web)"``.
        resolve: a name -> a component or a list of components (a group); KeyError if unknown.
        serving: a store -> its "can serve" structure or predicate.
        replicas: a store -> its replicas.

    Returns:
        a Structure when every part is one; otherwise a callable predicate (``serving``
        of a primary-backup store depends on which replica is primary).

    Raises:
        ExprError: a syntax error, an unknown name or function, a bad ``k``.
    """
    from hasim import structure as st

    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as error:
        raise ExprError(f"{text!r} is not a valid expression ({error.msg})") from None

    def items(nodes: list[ast.AST]) -> list[Any]:
        out: list[Any] = []
        for node in nodes:
            value = walk(node)
            out.extend(value if isinstance(value, list) else [value])
        return out

    def walk(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Name):
            return resolve(node.id)
        if isinstance(node, (ast.List, ast.Tuple)):
            return items(node.elts)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.BitAnd, ast.BitOr)):
            parts = items([node.left, node.right])
            return gate("all_of" if isinstance(node.op, ast.BitAnd) else "any_of", None, parts)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
            name = node.func.id
            if name not in FUNCTIONS:
                raise ExprError(
                    f"{text!r} calls {name}(), which is not one of {', '.join(FUNCTIONS)}"
                    + suggest(name, FUNCTIONS)
                )
            if name in ("replicas", "serving"):
                if len(node.args) != 1 or not isinstance(node.args[0], ast.Name):
                    raise ExprError(f"{text!r}: {name}() takes one store's name")
                store = resolve(node.args[0].id)
                return replicas(store) if name == "replicas" else serving(store)
            if name == "k_of_n":
                if not node.args:
                    raise ExprError(f"{text!r}: k_of_n() needs k and its inputs")
                k_node = node.args[0]
                if not (isinstance(k_node, ast.Constant) and type(k_node.value) is int):
                    raise ExprError(
                        f"{text!r}: k_of_n's k must be an integer (a parameter as ${{name}})"
                    )
                return gate(name, k_node.value, items(node.args[1:]))
            return gate(name, None, items(node.args))
        if isinstance(node, ast.Constant):
            raise ExprError(f"{text!r}: {node.value!r} is not a component's name")
        raise ExprError(
            f"{text!r} may hold only component names, &, |, and {', '.join(FUNCTIONS)}()"
        )

    def gate(kind: str, k: int | None, parts: list[Any]) -> Any:
        if not parts:
            raise ExprError(f"{text!r}: {kind}() needs at least one input")
        if kind == "majority":
            kind, k = "k_of_n", len(parts) // 2 + 1
        if k is not None and not 1 <= k <= len(parts):
            raise ExprError(f"{text!r}: k_of_n's k must be in 1..{len(parts)}, got {k}")
        if all(isinstance(p, st.Structure) or hasattr(p, "up") for p in parts):
            if kind == "all_of":
                return st.all_of(*parts)
            if kind == "any_of":
                return st.any_of(*parts)
            return st.k_of_n(k, *parts)
        need = len(parts) if kind == "all_of" else 1 if kind == "any_of" else k
        return Vote(need, tuple(as_predicate(p) for p in parts))

    result = walk(tree)
    if isinstance(result, list):
        raise ExprError(f"{text!r} is a group: say all_of(...), any_of(...) or k_of_n(k, ...)")
    return result


def as_predicate(part: Any) -> Callable[[], bool]:
    """A structure, predicate or component as a function of no arguments -> bool."""
    from hasim.structure import Structure

    if isinstance(part, Structure) or callable(part) and not hasattr(part, "up"):
        return part
    return lambda: part.up


class Vote:
    """A predicate: at least ``need`` of ``parts`` (functions -> bool) hold.

    The form an ``up`` expression takes when a part is no structure (``serving``
    of a primary-backup store): evaluated after every state change, like a lambda.
    """

    __slots__ = ("need", "parts")

    def __init__(self, need: int, parts: tuple[Callable[[], bool], ...]) -> None:
        self.need = need
        self.parts = parts

    def __call__(self) -> bool:
        """Whether at least ``need`` parts hold now."""
        count = 0
        for part in self.parts:
            count += bool(part())
            if count >= self.need:
                return True
        return False

    def __repr__(self) -> str:
        return f"at_least({self.need}, {list(self.parts)!r})"
