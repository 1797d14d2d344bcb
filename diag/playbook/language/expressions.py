"""Jinja2 expressions and templates, evaluated the way Ansible does, in a sandbox.

In: template strings (``"{{ a }} kib"``), bare expressions (``when: a > 1``) and a variables mapping.
Out: rendered values. A string that is exactly one ``{{ expr }}`` yields the native value (int, list,
dict...), anything else renders to a string. Undefined variables are errors (``StrictUndefined``),
raised as ``ExpressionError`` that quotes the expression. Variables from the playbook, inventory and
``-e`` may themselves be templates: wrap them in ``Lazy`` and they are rendered when first read,
so ``threshold: "{{ base * 2 }}"`` works; registered results are never re-templated.

>>> templar = Templar()
>>> templar.render("{{ n * 2 }}", {"n": 21}), templar.render("n={{ n }}", {"n": 21})
(42, 'n=21')
>>> templar.evaluate("a > b", {"a": Lazy("{{ b + 1 }}"), "b": 1})
True
>>> templar.render("ls {{ path | quote }}", {"path": "a b"})
"ls 'a b'"
"""

from __future__ import annotations

import contextlib
import json
import shlex
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, Undefined
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context, missing
from jinja2.sandbox import SandboxedEnvironment, safe_range
from jinja2.utils import consume

from diag.playbook.language.plans import DICT_ATTRIBUTES, KEPT, MISSING, Plan, memo_key, plan_of, source_of
from diag.shared.errors import PlaybookError
from diag.shared.limits import MAX_TEMPLATE_STEPS
from diag.shared.units import fmt_kib, fmt_rate

_MAX_LAZY_DEPTH = 32
_MAX_CACHED = 2048  # compiled expressions / templates kept per Templar
MAX_POWER = 4096  # ** exponent: 2 ** 4096 is a 1,233-digit number, 10 ** 10 ** 10 would never end
MAX_VALUE_LEN = 1_000_000  # "x" * n, [..] * n
_T = TypeVar("_T")


class ExpressionError(PlaybookError):
    """An expression or template that does not parse or fails to evaluate; ``expression`` is quoted."""

    def __init__(self, expression: str, detail: str) -> None:
        self.expression = expression
        self.detail = detail
        super().__init__(f"{detail} in {expression!r}")


@dataclass(frozen=True, slots=True)
class Lazy:
    """A variable value that is itself a template, rendered when an expression reads it."""

    raw: Any


def is_template(value: object) -> bool:
    """Whether a string needs rendering (holds ``{{``, ``{%`` or ``{#``)."""
    return isinstance(value, str) and ("{{" in value or "{%" in value or "{#" in value)


def _contains_template(value: object) -> bool:
    if isinstance(value, Mapping):
        return any(_contains_template(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_contains_template(v) for v in value)
    return is_template(value)


def lazy_vars(values: Mapping[str, Any]) -> dict[str, Any]:
    """Wrap the values that contain templates in ``Lazy``; leave the rest as they are."""
    return {k: Lazy(v) if _contains_template(v) else v for k, v in values.items()}


class _LazyContext(Context):
    """A Jinja context that renders ``Lazy`` values on lookup (what Ansible's AnsibleJ2Vars does).

    Its parent is the caller's variables mapping itself, not a copy merged with Jinja's globals
    (``range``, ``dict``, ...): those are looked up last. Jinja's own ``render(**variables)`` copies
    the variables three times per call, ~90 % of evaluating a ``when:`` against a task's scope.
    """

    def resolve_or_missing(self, key: str) -> Any:
        if key in self.vars:
            return self.vars[key]
        if key not in self.parent:
            return self.environment.globals.get(key, missing)
        value = self.parent[key]
        if isinstance(value, Lazy):
            env = self.environment
            assert isinstance(env, _Environment)
            return env.templar.resolve_lazy(key, value, self.get_all())
        return value


class _Environment(SandboxedEnvironment):
    """The sandbox, plus a work budget per evaluation: every call costs a step and ``range(n)`` costs
    n, so nested loops (``range(10**5)`` inside ``range(10**5)``) stop after ``MAX_TEMPLATE_STEPS``
    instead of running for minutes past the host deadline; ``*`` and ``**`` cannot build huge values."""

    context_class = _LazyContext
    templar: Templar
    intercepted_binops = frozenset({"*", "**"})

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        cost = 1
        if __obj is safe_range:
            with contextlib.suppress(TypeError, ValueError, OverflowError):
                cost += len(range(*args))
        __self.templar.charge(cost)
        return super().call(__context, __obj, *args, **kwargs)

    def getattr(self, obj: Any, attribute: str) -> Any:
        """``a.b`` on a plain dict whose key is no dict attribute: the key, as the sandbox gives it
        after ``getattr`` has failed (an exception a lookup, ~100 of them in a triage host's ranking)."""
        if type(obj) is dict and attribute in obj and attribute not in DICT_ATTRIBUTES:
            return obj[attribute]
        return super().getattr(obj, attribute)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and _is_int(left) and _is_int(right) and abs(left) > 1 and right > MAX_POWER:
            raise SecurityError(f"{left} ** {right} is too large (exponent above {MAX_POWER})")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if (
                    isinstance(seq, str | list | tuple)
                    and _is_int(times)
                    and len(seq) * times > MAX_VALUE_LEN
                ):
                    raise SecurityError(
                        f"repeating a value {times} times gives more than {MAX_VALUE_LEN:,} items"
                    )
        return super().call_binop(context, operator, left, right)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _to_json(value: Any, indent: int | None = None) -> str:
    return json.dumps(value, indent=indent, sort_keys=True, default=str)


def _to_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on", "y")
    return bool(value)


class Templar:
    """Parses and evaluates Jinja2 in a ``SandboxedEnvironment`` with ``StrictUndefined``.

    Filters beyond Jinja's own: ``quote`` (shlex.quote, for values put into ``command:``),
    ``to_json``, ``from_json``, ``bool``, ``rate`` (``152340.5 -> "152,340"``, None -> ``"n/a"``) and ``kib``
    (``65536 -> "64.0 MiB"``).
    """

    def __init__(self) -> None:
        env = _Environment(undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False)
        env.templar = self
        env.filters["quote"] = lambda value: shlex.quote(str(value))
        env.filters["to_json"] = _to_json
        env.filters["from_json"] = (
            json.loads
        )  # Ansible's: a list built by a {% for %} loop comes back as data
        env.filters["bool"] = _to_bool
        env.filters["rate"] = fmt_rate
        env.filters["kib"] = fmt_kib
        self.env = env
        self._resolving = threading.local()
        # Compiled once per distinct string, shared by every host and thread: compiling costs 0.4-0.9 ms
        # (parse + codegen + compile()), running a compiled one ~20 us, and a playbook has few strings.
        self._plans: dict[tuple[str, bool], Plan] = {}
        # (plan, its variables' plain values) -> the value: see _run and plans.memo_key
        self._values: dict[tuple[Any, ...], Any] = {}
        # A fleet's hosts finish sampling together and then all miss the cache for the next task at
        # once: one compile per string, the others wait for it (a 200-host run compiled 238 for ~60).
        self._compile_lock = threading.Lock()

    # -- checks done before anything runs ---------------------------------------------------------

    def check_expression(self, expression: str) -> None:
        """Raise ``ExpressionError`` with Jinja's message if a bare expression does not parse."""
        try:
            self.env.compile_expression(expression)
        except TemplateSyntaxError as exc:
            raise ExpressionError(expression, exc.message or str(exc)) from None

    def check_template(self, value: Any) -> None:
        """Raise ``ExpressionError`` if any template string inside ``value`` does not parse."""
        if isinstance(value, Mapping):
            for item in value.values():
                self.check_template(item)
        elif isinstance(value, list | tuple):
            for item in value:
                self.check_template(item)
        elif is_template(value):
            try:
                self.env.parse(value)
            except TemplateSyntaxError as exc:
                raise ExpressionError(str(value), exc.message or str(exc)) from None

    # -- evaluation ---------------------------------------------------------------------------------

    def charge(self, steps: int) -> None:
        """Count template work against the current evaluation's budget; over it, the evaluation fails."""
        state = self._resolving.__dict__
        state["steps"] = state.get("steps", 0) + steps
        if state["steps"] > MAX_TEMPLATE_STEPS:
            state["steps"] = 0
            raise SecurityError(
                f"template work over {MAX_TEMPLATE_STEPS:,} steps (calls + range items): a runaway loop?"
            )

    def _start(self) -> None:
        """A new top-level evaluation (not a lazy variable inside one) starts a fresh budget."""
        state = self._resolving.__dict__
        if not state.get("stack"):
            state["steps"] = 0

    def evaluate(self, expression: str, variables: Mapping[str, Any]) -> Any:
        """The value of a bare expression such as ``sample.rates.majflt_per_s > 100``."""
        return self._run(expression, True, variables)

    def render(self, value: Any, variables: Mapping[str, Any]) -> Any:
        """Render every template inside ``value`` (recursing into lists and dicts)."""
        if type(value) is str:  # the common case first: isinstance against Mapping is an ABC check
            return self._run(value, False, variables) if is_template(value) else value
        if isinstance(value, Mapping):
            return {k: self.render(v, variables) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.render(v, variables) for v in value]
        if not is_template(value):
            return value
        return self._run(str(value), False, variables)

    def _run(self, text: str, bare: bool, variables: Mapping[str, Any]) -> Any:
        """Run the plan of ``text`` (a bare expression when ``bare``) over ``variables``.

        A plan whose variables hold the same plain values as a run before gives that run's value
        without running (``Plan``): the playbook's thresholds and ``interval_s`` are the same on
        every host, and ~15 of a triage host's ~70 evaluations are such strings.
        """
        plan = self._plans.get((text, bare))
        key: tuple[Any, ...] | None = None
        try:
            if plan is None:
                with self._compile_lock:
                    plan = self._plans.get((text, bare)) or self._remember(
                        self._plans, (text, bare), plan_of(self.env, text, bare)
                    )
            if plan.path is not None:
                found = _follow(plan.path, variables)
                if found is not MISSING:
                    return found
            if plan.names is not None:
                key = memo_key(plan, variables)
                if key is not None:
                    known = self._values.get(key, MISSING)
                    if known is not MISSING:
                        return known
            self._start()
            context = _LazyContext(self.env, variables, plan.template.name, plan.template.blocks)  # type: ignore[arg-type]
            if plan.expression:
                consume(plan.template.root_render_func(context))
                result = context.vars["result"]
            else:
                result = self.env.concat(plan.template.root_render_func(context))
        except ExpressionError:
            raise
        except TemplateError as exc:
            raise ExpressionError(source_of(plan, text, bare), exc.message or str(exc)) from None
        except Exception as exc:  # a runtime error inside the expression: 1 / 0, None > 3, ...
            raise ExpressionError(source_of(plan, text, bare), f"{type(exc).__name__}: {exc}") from None
        if plan.expression and isinstance(result, Undefined):
            raise ExpressionError(plan.source, _undefined_message(result))
        if key is not None and type(result) in KEPT:
            self._remember(self._values, key, result)
        return result

    @staticmethod
    def _remember(cache: dict[Any, _T], key: Any, value: _T) -> _T:
        if len(cache) >= _MAX_CACHED:  # strings built at run time must not grow the cache forever
            cache.clear()
        cache[key] = value
        return value

    def value_of(self, value: Any, variables: Mapping[str, Any]) -> Any:
        """An argument that may be a bare expression or a template: ``a.b`` and ``"{{ a.b }}"``."""
        if isinstance(value, str) and not is_template(value):
            return self.evaluate(value, variables)
        return self.render(value, variables)

    def resolve_lazy(self, key: str, lazy: Lazy, variables: Mapping[str, Any]) -> Any:
        """Render a templated variable, refusing loops such as ``a: "{{ a }}"``."""
        stack: list[str] = self._resolving.__dict__.setdefault("stack", [])
        if key in stack or len(stack) > _MAX_LAZY_DEPTH:
            chain = " -> ".join([*stack, key])
            raise ExpressionError(str(lazy.raw), f"recursive variable definition: {chain}")
        stack.append(key)
        try:
            return self.render(lazy.raw, variables)
        finally:
            stack.pop()


def _follow(path: tuple[str, ...], variables: Mapping[str, Any]) -> Any:
    """``a.b.c`` read straight from dicts, what the sandbox's ``getattr`` gives when ``a`` is a plain
    variable (not a template) and each step a dict key that is no dict attribute (``items`` is one);
    anything else (``MISSING``) goes through Jinja, which also words the errors. A Jinja context
    costs more than the lookups of most ``value:`` and ``evidence:`` templates."""
    value = variables.get(path[0], MISSING)
    if value is MISSING or type(value) is Lazy:
        return MISSING
    for key in path[1:]:
        if type(value) is not dict or key not in value or key in DICT_ATTRIBUTES:
            return MISSING
        value = value[key]
    return value


def _undefined_message(value: Undefined) -> str:
    try:
        str(value)
    except TemplateError as exc:
        return exc.message or str(exc)
    return "undefined value"
