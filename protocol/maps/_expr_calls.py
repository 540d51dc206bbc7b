"""The compiler's nodes for attributes, calls and comprehensions (mixed into :mod:`protocol.maps._expr`).

Attributes are read only on record values, what the functions return, the ``datetime`` / ``json``
namespaces and the datetime classes; on a dict a missing attribute falls back to the key, as in
simpleeval (``record.id``). A call names one of the functions or a method of such a value; the
methods that grow values have their sizes checked first, and every result is length-checked.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any

from protocol.maps import _limits as lim
from protocol.maps._closures import Expression, call1, constant, constant_of, exact, key_of, undefined

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["CallNodes", "ComprehensionNodes"]


#: [steps, depth] of the comprehension being evaluated: nested comprehensions count their steps
#: together (an inner one runs once per step of the outer), so three nested loops of 99,999 items
#: stop at MAX_ITERATIONS steps in all, not at 10^15
_STEPS = [0, 0]

def _attribute(value: Any, attr: str) -> Any:
    if isinstance(value, lim.Namespace):
        return value.attribute(attr)
    if isinstance(value, lim.ALLOWED_METHOD_TYPES) or (isinstance(value, type) and value in lim.ALLOWED_CLASSES):
        try:
            return getattr(value, attr)
        except AttributeError:
            if isinstance(value, dict) and attr in value:
                return value[attr]
            raise
    if value is None:
        raise AttributeError(f"None has no attribute {attr!r}")
    raise TypeError(f"attribute {attr!r} of a {type(value).__name__} is not available in a stream map")


class CallNodes:
    problems: list[str]
    node: Callable[[ast.AST], Expression]
    refuse: Callable[[str], Expression]

    def attr_name(self, attr: str) -> bool:
        if attr.startswith("_"):
            self.problems.append(f"attribute {attr!r} is not allowed (names starting with '_' are refused)")
            return False
        if attr in lim.FORBIDDEN_METHODS:
            self.problems.append(f"method {attr!r} is not allowed")
            return False
        return True

    def n_Attribute(self, node: ast.Attribute) -> Expression:
        attr = node.attr
        if not self.attr_name(attr):
            return constant(None)
        target = self.node(node.value)
        return lambda r: exact(_attribute(target(r), attr))

    def arguments(self, node: ast.Call) -> tuple[list[Expression], list[tuple[str, Expression]]] | None:
        if any(isinstance(arg, ast.Starred) for arg in node.args) or any(kw.arg is None for kw in node.keywords):
            self.problems.append("'*' and '**' arguments are not allowed")
            return None
        return [self.node(arg) for arg in node.args], [(str(kw.arg), self.node(kw.value)) for kw in node.keywords]

    def n_Call(self, node: ast.Call) -> Expression:
        func = node.func
        if isinstance(func, ast.Name) and func.id not in lim.CALLABLE:
            return self.refuse(f"{func.id}() is not a function a stream map can call "
                               f"(functions: {', '.join(sorted(lim.CALLABLE))})")
        if not isinstance(func, ast.Name | ast.Attribute):
            return self.refuse("only functions and methods can be called")
        if isinstance(func, ast.Attribute) and not self.attr_name(func.attr):
            return constant(None)
        parsed = self.arguments(node)
        if parsed is None:
            return constant(None)
        args, kwargs = parsed
        if isinstance(func, ast.Name):
            return _function_call(func.id, args, kwargs)
        return _method_call(self.node(func.value), func.attr, args, kwargs)


def _function_call(name: str, args: list[Expression], kwargs: list[tuple[str, Expression]]) -> Expression:
    function = lim.FUNCTIONS[name]
    if not kwargs and len(args) == 1:
        return call1(function, args[0], digest=lim.DIGESTS.get(name))
    return lambda r: function(*[a(r) for a in args], **{k: v(r) for k, v in kwargs})


def _method_call(target: Expression, name: str, args: list[Expression], kwargs: list[tuple[str, Expression]]
                 ) -> Expression:
    """A method of a value; a str method that cannot grow its string is called directly (the hot path)."""
    def call(obj: Any, r: dict[str, Any]) -> Any:
        bound = _attribute(obj, name)
        values = tuple(a(r) for a in args)
        named = {k: v(r) for k, v in kwargs}
        lim.check_call(name, obj, values, named)
        return exact(lim.check_length(lim.finite(bound(*values, **named), name)))

    fast = getattr(str, name) if name in lim.STR_BOUNDED_METHODS and not kwargs and len(args) <= 2 else None
    if fast is None:
        return lambda r: call(target(r), r)
    if not args:
        def method0(r: dict[str, Any]) -> Any:
            obj = target(r)
            return fast(obj) if obj.__class__ is str else call(obj, r)
        return method0
    first = args[0]
    if len(args) == 1 and key_of(target) is not None and constant_of(first) is not None:
        return _method1_fused(fast, call, key_of(target), constant_of(first))  # type: ignore[arg-type]
    if len(args) == 1:
        def method1(r: dict[str, Any]) -> Any:
            obj = target(r)
            return fast(obj, first(r)) if obj.__class__ is str else call(obj, r)
        return method1
    second = args[1]

    def method2(r: dict[str, Any]) -> Any:
        obj = target(r)
        return fast(obj, first(r), second(r)) if obj.__class__ is str else call(obj, r)
    return method2


def _method1_fused(fast: Any, call: Any, found: tuple[str, str], const: tuple[Any]) -> Expression:
    """``prop.method(constant)`` (``email.split('@')``) in one call."""
    (key, name), (value,) = found, const

    def method(r: dict[str, Any]) -> Any:
        try:
            obj = r[key]
        except KeyError:
            raise undefined(name, key) from None
        return fast(obj, value) if obj.__class__ is str else call(exact(obj), r)
    return method


class ComprehensionNodes:
    problems: list[str]
    scopes: list[dict[str, Any]]
    node: Callable[[ast.AST], Expression]

    def loops(self, generators: list[ast.comprehension]) -> Callable[[dict[str, Any], Callable[[], None]], None] | None:
        """A driver running the comprehension's loops, calling ``emit`` for each innermost step."""
        frame: dict[str, Any] = {}
        names: set[str] = set()
        steps: list[tuple[Expression, Callable[[Any], None], list[Expression]]] = []
        first_iter = self.node(generators[0].iter)
        self.scopes.append({"frame": frame, "names": names})
        for i, gen in enumerate(generators):
            if gen.is_async:
                self.problems.append("async comprehensions are not allowed")
                return None
            iterable = first_iter if i == 0 else self.node(gen.iter)
            bind = self.binder(gen.target, frame, names)
            if bind is None:
                return None
            steps.append((iterable, bind, [self.node(cond) for cond in gen.ifs]))

        def run(r: dict[str, Any], emit: Callable[[], None]) -> None:
            count = _STEPS  # shared by the comprehensions nested in this one (reset by the outermost)
            if count[1] == 0:
                count[0] = 0
            count[1] += 1

            def level(depth: int) -> None:
                iterable, bind, conds = steps[depth]
                for item in iterable(r):
                    count[0] += 1
                    if count[0] > lim.MAX_ITERATIONS:
                        raise lim.LimitExceeded(f"comprehension past {lim.MAX_ITERATIONS} steps")
                    bind(item)
                    if all(cond(r) for cond in conds):
                        if depth + 1 == len(steps):
                            emit()
                        else:
                            level(depth + 1)
            try:
                level(0)
            finally:
                count[1] -= 1
        return run

    def binder(self, target: ast.expr, frame: dict[str, Any], names: set[str]) -> Callable[[Any], None] | None:
        if isinstance(target, ast.Name) and not target.id.startswith("_"):
            names.add(target.id)
            key = target.id

            def bind(item: Any) -> None:
                frame[key] = item
            return bind
        if isinstance(target, ast.Tuple) and all(isinstance(e, ast.Name) and not e.id.startswith("_")
                                                 for e in target.elts):
            keys = [e.id for e in target.elts]  # type: ignore[attr-defined]
            names.update(keys)

            def unpack(item: Any) -> None:
                values = tuple(item)
                if len(values) != len(keys):
                    raise ValueError(f"cannot unpack {len(values)} values into {len(keys)} names")
                frame.update(zip(keys, values, strict=True))
            return unpack
        self.problems.append("a comprehension variable must be a name, or a tuple of names, not starting with '_'")
        return None

    def comprehension(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp,
                      make: Callable[[list[Expression]], Callable[[dict[str, Any], Any], None]],
                      empty: Callable[[], Any], parts: list[ast.expr]) -> Expression:
        depth = len(self.scopes)
        run = self.loops(node.generators)
        if run is None:
            del self.scopes[depth:]
            return constant(None)
        compiled = [self.node(part) for part in parts]
        del self.scopes[depth:]
        add = make(compiled)

        def evaluate(r: dict[str, Any]) -> Any:
            out = empty()
            run(r, lambda: add(r, out))
            return lim.check_length(out)
        return evaluate

    def n_ListComp(self, node: ast.ListComp) -> Expression:
        return self.comprehension(node, lambda c: lambda r, out: out.append(c[0](r)), list, [node.elt])

    def n_GeneratorExp(self, node: ast.GeneratorExp) -> Expression:  # evaluated eagerly, as a list
        return self.comprehension(node, lambda c: lambda r, out: out.append(c[0](r)), list, [node.elt])

    def n_SetComp(self, node: ast.SetComp) -> Expression:
        return self.comprehension(node, lambda c: lambda r, out: out.add(c[0](r)), set, [node.elt])

    def n_DictComp(self, node: ast.DictComp) -> Expression:
        def make(c: list[Expression]) -> Callable[[dict[str, Any], Any], None]:
            def put(r: dict[str, Any], out: dict[Any, Any]) -> None:
                out[c[0](r)] = c[1](r)
            return put
        return self.comprehension(node, make, dict, [node.key, node.value])


