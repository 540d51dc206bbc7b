"""Stream-map expressions, compiled once to Python closures that are safe to run on every record.

    expr = compile_expression("sha256(email.lower())", prop="email", config={}, stream="users")
    value = expr(record)          # a closure tree: no eval(), no per-record parsing

An expression is parsed with :mod:`ast` in ``eval`` mode and every node is checked against a
whitelist; what is not on it is refused at compile time with one message per problem:
statements, imports, lambdas, starred arguments, walrus, any name or attribute that starts with
an underscore (``_`` alone is the record), calls of anything but the listed functions and the
methods of values. Names resolve as singer-sdk's engine resolves them: ``record`` and ``_`` (the
record), ``config`` (``stream_map_config``), ``self`` (the mapped property's input value),
``__stream_name__`` / ``__original_stream_name__``, a property of the record, then the functions
of :mod:`protocol.maps._limits`. What can grow is bounded there (:class:`LimitExceeded`).
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from protocol.maps import _limits as lim
from protocol.maps._closures import Expression, Undefined, compare1, constant_of, json_checked
from protocol.maps._closures import constant as _constant
from protocol.maps._closures import exact as _exact
from protocol.maps._closures import frame_lookup as _frame_lookup
from protocol.maps._closures import record as _record
from protocol.maps._closures import record_lookup as _record_lookup
from protocol.maps._closures import record_or as _record_or
from protocol.maps._expr_calls import CallNodes, ComprehensionNodes

__all__ = ["Expression", "Undefined", "compile_expression", "expression_problems"]

_STREAM_NAMES = ("__stream_name__", "__original_stream_name__")
_MAX_SOURCE = 10_000  # characters of one expression


_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Is: operator.is_, ast.IsNot: operator.is_not,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}
_UNARY: dict[type, Callable[[Any], Any]] = {
    ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_, ast.Invert: operator.invert,
}


def expression_problems(source: Any) -> list[str]:
    """What is wrong with an expression (empty when it compiles)."""
    compiler = _Compiler(prop=None, config={}, names={})
    compiler.compile(source)
    return compiler.problems


def compile_expression(source: str, *, prop: str | None, config: Any, names: dict[str, Any]) -> Expression:
    """The closure of ``source``; ``prop`` is the property it maps (``self``), ``names`` the
    constant names (the stream names). Raises ValueError listing the problems."""
    compiler = _Compiler(prop=prop, config=config, names=names)
    fn = compiler.compile(source)
    if compiler.problems:
        raise ValueError("; ".join(compiler.problems))
    return fn


_PLAIN_CALLS = frozenset({"md5", "sha256", "str", "int", "float", "bool", "len"})


def _plain(node: ast.expr) -> bool:
    """Whether an expression's result is a JSON value whatever the record (a text, a number, a
    bool): only the others are checked when they are computed (json_checked)."""
    if isinstance(node, (ast.Constant, ast.JoinedStr, ast.Compare)):
        return True
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return True
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _PLAIN_CALLS


class _Compiler(CallNodes, ComprehensionNodes):
    def __init__(self, *, prop: str | None, config: Any, names: dict[str, Any]) -> None:
        self.prop = prop
        self.config = config
        self.names = names
        self.problems: list[str] = []
        self.scopes: list[dict[str, Any]] = []  # comprehension variables: name -> the frame dict holding it
        self.text = ""  # the expression being compiled

    def compile(self, source: Any) -> Expression:
        if not isinstance(source, str):
            self.problems.append(f"expression must be a string, not {type(source).__name__}")
            return _constant(None)
        if len(source) > _MAX_SOURCE:
            self.problems.append(f"expression longer than {_MAX_SOURCE} characters")
            return _constant(None)
        self.text = source.strip()
        try:
            tree = ast.parse(self.text, mode="eval")
        except SyntaxError as exc:
            self.problems.append(f"invalid syntax in {source!r}: {exc.msg}")
            return _constant(None)
        except (ValueError, RecursionError, MemoryError) as exc:  # NUL bytes, nesting past the parser
            self.problems.append(f"cannot parse {source!r}: {exc}")
            return _constant(None)
        try:
            fn = self.node(tree.body)
        except RecursionError:
            self.problems.append("expression nested too deeply")
            return _constant(None)
        return fn if self.prop is None or _plain(tree.body) else json_checked(fn)

    def refuse(self, what: str) -> Expression:
        self.problems.append(what)
        return _constant(None)

    def node(self, node: ast.AST) -> Expression:
        method = getattr(self, "n_" + type(node).__name__, None)
        if method is None:
            return self.refuse(f"{_describe(node)} is not allowed in a stream map expression")
        return method(node)  # type: ignore[no-any-return]

    # leaves

    def n_Constant(self, node: ast.Constant) -> Expression:
        if isinstance(node.value, (str, bytes)) and len(node.value) > lim.MAX_LENGTH:
            return self.refuse("a literal longer than the limit")
        if isinstance(node.value, float) and not math.isfinite(node.value):
            return self.refuse(f"the number {ast.get_source_segment(self.text, node) or node.value} is past a float's "
                               "range (JSON cannot hold infinity)")
        if isinstance(node.value, complex):
            return self.refuse("complex numbers are not allowed (JSON cannot hold them)")
        return _constant(node.value)

    def n_Name(self, node: ast.Name) -> Expression:
        name = node.id
        for scope in reversed(self.scopes):
            if name in scope["names"]:
                return _frame_lookup(scope["frame"], name)
        if name in _STREAM_NAMES:
            return _constant(self.names.get(name))
        if name.startswith("_") and name != "_":
            return self.refuse(f"name {name!r} is not allowed (names starting with '_' are refused)")
        if name in ("record", "_"):
            return _record
        if name == "config":
            return _constant(self.config)
        if name == "self":
            return _record_lookup(self.prop, "self") if self.prop is not None else _record_lookup("self", "self")
        if name in lim.FUNCTIONS:
            return _record_or(name, lim.FUNCTIONS[name])
        return _record_lookup(name, name)

    # operators

    def n_BinOp(self, node: ast.BinOp) -> Expression:
        op = lim.BINARY.get(type(node.op))
        if op is None:
            return self.refuse(f"operator {type(node.op).__name__} is not allowed")
        left, right = self.node(node.left), self.node(node.right)
        folded = _fold(op, left, right)
        return folded if folded is not None else lambda r: op(left(r), right(r))

    def n_UnaryOp(self, node: ast.UnaryOp) -> Expression:
        op = _UNARY[type(node.op)]
        operand = self.node(node.operand)
        folded = _fold(op, operand)
        return folded if folded is not None else lambda r: op(operand(r))

    def n_BoolOp(self, node: ast.BoolOp) -> Expression:
        parts = [self.node(value) for value in node.values]
        if isinstance(node.op, ast.And):
            def both(r: dict[str, Any]) -> Any:
                value = None
                for part in parts:
                    value = part(r)
                    if not value:
                        return value
                return value
            return both

        def either(r: dict[str, Any]) -> Any:
            value = None
            for part in parts:
                value = part(r)
                if value:
                    return value
            return value
        return either

    def n_Compare(self, node: ast.Compare) -> Expression:
        ops = [_COMPARE[type(op)] for op in node.ops]
        first = self.node(node.left)
        rest = [self.node(value) for value in node.comparators]
        if len(ops) == 1:
            return compare1(ops[0], first, rest[0])
        pairs = list(zip(ops, rest, strict=True))

        def chain(r: dict[str, Any]) -> Any:
            left = first(r)
            for op, part in pairs:
                value = part(r)
                if not op(left, value):
                    return False
                left = value
            return True
        return chain

    def n_IfExp(self, node: ast.IfExp) -> Expression:
        test, body, orelse = self.node(node.test), self.node(node.body), self.node(node.orelse)
        return lambda r: body(r) if test(r) else orelse(r)

    # containers

    def n_List(self, node: ast.List) -> Expression:
        items = self.elements(node.elts)
        return lambda r: [item(r) for item in items]

    def n_Tuple(self, node: ast.Tuple) -> Expression:
        items = self.elements(node.elts)
        return lambda r: tuple(item(r) for item in items)

    def n_Set(self, node: ast.Set) -> Expression:
        items = self.elements(node.elts)
        return lambda r: {item(r) for item in items}

    def n_Dict(self, node: ast.Dict) -> Expression:
        if any(key is None for key in node.keys):
            return self.refuse("'**' unpacking is not allowed")
        pairs = [(self.node(k), self.node(v)) for k, v in zip(node.keys, node.values, strict=True)]  # type: ignore[arg-type]
        return lambda r: {key(r): value(r) for key, value in pairs}

    def elements(self, nodes: list[ast.expr]) -> list[Expression]:
        if any(isinstance(item, ast.Starred) for item in nodes):
            self.problems.append("'*' unpacking is not allowed")
            return []
        return [self.node(item) for item in nodes]

    def n_Subscript(self, node: ast.Subscript) -> Expression:
        value, index = self.node(node.value), self.node(node.slice)
        fixed = constant_of(index)
        if fixed is not None:
            key = fixed[0]

            def item(r: dict[str, Any]) -> Any:
                found = value(r)[key]
                return Decimal(repr(found)) if found.__class__ is float else found
            return item
        return lambda r: _exact(value(r)[index(r)])

    def n_Slice(self, node: ast.Slice) -> Expression:
        lower, upper, step = [self.node(part) if part is not None else _constant(None)
                              for part in (node.lower, node.upper, node.step)]
        return lambda r: slice(lower(r), upper(r), step(r))

    # f-strings

    def n_JoinedStr(self, node: ast.JoinedStr) -> Expression:
        parts = [self.node(value) for value in node.values]
        return lambda r: lim.check_length("".join([part(r) for part in parts]))

    def n_FormattedValue(self, node: ast.FormattedValue) -> Expression:
        value = self.node(node.value)
        spec = self.node(node.format_spec) if node.format_spec is not None else _constant("")
        convert = {-1: None, 115: str, 114: repr, 97: ascii}[node.conversion]

        def formatted(r: dict[str, Any]) -> str:
            item = lim.check_size(value(r))
            if convert is not None:
                item = convert(item)
            return format(item, lim.check_spec(spec(r)))
        return formatted



def _describe(node: ast.AST) -> str:
    names = {"Lambda": "lambda", "NamedExpr": "':=' assignment", "Await": "await", "Yield": "yield",
             "YieldFrom": "yield", "Starred": "'*' unpacking", "MatMult": "'@'"}
    return names.get(type(node).__name__, f"{type(node).__name__} syntax")


def _fold(op: Callable[..., Any], *parts: Expression) -> Expression | None:
    """An operator on constants (``-1``, ``2 ** 10``), computed once; None when a part is not constant
    or the operation fails or is refused (it then fails on every record, with the record's line)."""
    values = [constant_of(part) for part in parts]
    if any(value is None for value in values):
        return None
    try:
        return _constant(op(*(value[0] for value in values)))  # type: ignore[index]
    except (ArithmeticError, LookupError, TypeError, ValueError):
        return None

