"""Plans: each template string of a playbook compiled once, and what lets a host skip running one.

In: a string (a bare expression such as ``a > 1``, or a template) and the Jinja environment.
Out: a ``Plan``: the compiled template, whether its value is one expression's native value, the
text errors quote, the variables it reads (for ``memo_key``) and, for a dotted lookup such as
``s.rates.majflt_per_s``, its path. The Templar (expressions.py) runs plans; this module only
builds and keys them.

>>> from jinja2.sandbox import SandboxedEnvironment
>>> plan = plan_of(SandboxedEnvironment(), "{{ s.rates.majflt_per_s }}", False)
>>> plan.expression, plan.source, plan.names, plan.path
(True, 's.rates.majflt_per_s', ('s',), ('s', 'rates', 'majflt_per_s'))
>>> memo_key(plan_of(SandboxedEnvironment(), "{{ n }} pages", False), {"n": 1.5})
('{{ n }} pages', False, (<class 'float'>, '0x1.8000000000000p+0'))
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import Template, TemplateSyntaxError, nodes
from jinja2.parser import Parser
from jinja2.sandbox import SandboxedEnvironment

SINGLE_EXPRESSION = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\{\{|\}\}).)*)\}\}\s*$", re.DOTALL)
MISSING: Any = object()  # a variable not set (it resolves to a Jinja global or is undefined)
PLAIN = frozenset({str, int, bool, type(None)})  # values a memo key holds as they are
KEPT = PLAIN | {float}  # results memoised: immutable
# names whose value changes from one call to the next (random, stateful helpers): never memoised
UNSTABLE = frozenset({"lipsum", "cycler", "joiner", "namespace"})
PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*\Z")
WORDS = frozenset({"true", "false", "none", "True", "False", "None", "not", "and", "or", "in", "is", "if"})
DICT_ATTRIBUTES = frozenset(dir(dict))  # ``d.items`` is the method for Jinja, not the key


@dataclass(frozen=True, slots=True)
class Plan:
    """A string compiled once, shared by every host: its template, whether its value is the native
    value of one expression (else the rendered string), the text errors quote, and the variables it
    may read (every name it loads), or None when its value may change between two
    runs over the same values (``random``, ``lipsum``...), so it is never memoised."""

    template: Template
    expression: bool
    source: str
    names: tuple[str, ...] | None
    path: tuple[str, ...] | None = None  # ("s", "rates", "majflt_per_s") for ``s.rates.majflt_per_s``


def expression_of(text: str, bare: bool) -> str | None:
    """The expression of a bare expression or of a template that is exactly one ``{{ expr }}``."""
    if bare:
        return text
    single = SINGLE_EXPRESSION.match(text)
    return single.group("expr").strip() if single else None


def source_of(plan: Plan | None, text: str, bare: bool) -> str:
    """What an error quotes: the expression (of a lone ``{{ expr }}`` too), else the template."""
    return plan.source if plan is not None else expression_of(text, bare) or text


def expression_tree(env: SandboxedEnvironment, expression: str) -> nodes.Template:
    """The tree Jinja's ``compile_expression`` builds (``result = EXPRESSION``), kept so that it is
    parsed once for both the template (run with a ``_LazyContext``, not through
    ``TemplateExpression.__call__``'s copies) and the variables it reads."""
    parser = Parser(env, expression, state="variable")
    try:
        expr = parser.parse_expression()
        if not parser.stream.eos:
            raise TemplateSyntaxError("chunk after expression", parser.stream.current.lineno, None, None)
        expr.set_environment(env)
    except TemplateSyntaxError:
        env.handle_exception(source=expression)
    tree = nodes.Template([nodes.Assign(nodes.Name("result", "store"), expr, lineno=1)], lineno=1)
    tree.set_environment(env)  # as on every tree Jinja parses itself
    return tree


def names_read(tree: nodes.Template) -> tuple[str, ...] | None:
    """The variables a parsed string may read, sorted; None when its value may change between two runs.

    Every name it loads, its own ``{% set %}`` and loop variables too: a name too many only makes the
    memo key longer, never wrong, and walking the tree costs a fraction of what Jinja's own
    ``find_undeclared_variables`` does (a second code generation: ~60 ms at each run's start).
    """
    names = {node.name for node in tree.find_all(nodes.Name) if node.ctx == "load"}
    if names & UNSTABLE or any(f.name == "random" for f in tree.find_all(nodes.Filter)):
        return None
    return tuple(sorted(names))


def plan_of(env: SandboxedEnvironment, text: str, bare: bool) -> Plan:
    """Compile ``text``: a bare expression, a template that is one ``{{ expr }}`` (its native value)
    or any other template (a string). Parsed once for both the template and the names it reads.
    Raises Jinja's ``TemplateSyntaxError``."""
    expression = expression_of(text, bare)
    if expression is None:
        tree = env.parse(text)
        names = names_read(tree)  # before compiling: Jinja's optimizer rewrites the tree
        return Plan(env.from_string(tree), False, text, names)
    tree = expression_tree(env, expression)
    names = names_read(tree)
    path = tuple(expression.split(".")) if PATH.match(expression) else None
    path = path if path and path[0] not in WORDS else None
    return Plan(env.from_string(tree), True, expression, names, path)


def memo_key(plan: Plan, variables: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """``plan`` and the type and value of each variable it reads, or None when one is not plain data
    (a dict, a list, a ``Lazy`` template whose value depends on other variables). Floats are keyed by
    ``hex()``: ``-0.0 == 0.0`` and ``1 == 1.0 == True`` are equal keys that render differently."""
    key: list[Any] = [plan.source, plan.expression]
    for name in plan.names or ():
        value = variables.get(name, MISSING)
        kind = type(value)
        if kind is float:
            value = value.hex()
        elif kind not in PLAIN and value is not MISSING:
            return None
        key.append((kind, value))
    return tuple(key)
