"""What every module shares: the argument spec, the ``Module`` base class and the ``HostContext``.

In: a task's arguments (already templated where the spec says ``template``) and a ``HostContext``
(the host's transport, variables and a read-only view of the host's state, e.g. ``ctx.verdict``).
Out: an ``Outcome``: what ``register:`` stores, the findings, verdict, remediation, ``set_fact``
updates, the ``-v`` detail and the measurement; the engine applies it to the host's result (no
module touches the result). A module signals "this task failed on this host" with ``TaskFailed`` and
"not applicable here" with ``TaskSkipped``; any ``TransportError`` it lets through stops the host.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from diag.findings import Finding, Remediation, Verdict
from diag.playbook.language.expressions import Templar, is_template
from diag.probe.deepdive import Profile
from diag.probe.facts import Facts
from diag.probe.measurements import HostSample
from diag.shared.errors import DiagError
from diag.shared.limits import as_number
from diag.transport import ConnectOptions, Transport

# How each argument is treated before ``Module.run`` sees it:
#   template   - rendered by the engine (a lone "{{ expr }}" gives the native value)
#   expression - a bare Jinja expression (or list of them, or a "{{ }}" template) the module evaluates
#   late       - a template the module renders itself, with extra names such as ``value``
ARG_KINDS = ("template", "expression", "late")


@dataclass(frozen=True, slots=True)
class Arg:
    """One module argument: how it is templated, whether it is required, allowed literal values.

    ``check`` validates the value (a literal at load time, the rendered value again before the module
    runs): it returns what is wrong with it, or None. ``None`` (the argument left unset) is not checked.
    """

    kind: str = "template"
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()
    help: str = ""
    check: Callable[[Any], str | None] | None = None


def number_check(
    low: float | None = None, high: float | None = None, *, integer: bool = False, above: bool = False
) -> Callable[[Any], str | None]:
    """A ``check`` for a finite number in [low, high] (``above``: > low), whole when ``integer``.

    >>> check = number_check(1, 100, integer=True)
    >>> check(5), check(2.5)
    (None, 'must be a whole number from 1 to 100, got 2.5')
    >>> check("5"), check(1e400)
    ("must be a whole number from 1 to 100, got '5'", 'must be a whole number from 1 to 100, got inf')
    """
    kind = "a whole number" if integer else "a number"
    if low is not None and high is not None and not above:
        wanted = f"{kind} from {low:g} to {high:g}"
    elif low is not None:
        wanted = f"{kind} {'>' if above else '>='} {low:g}" + (
            f" and <= {high:g}" if high is not None else ""
        )
    else:
        wanted = f"a finite {kind.removeprefix('a ')}"

    def check(value: Any) -> str | None:
        number = as_number(value)
        ok = number is not None and math.isfinite(number)
        if ok and integer and number is not None:
            ok = float(number).is_integer()
        if ok and number is not None and low is not None:
            ok = number > low if above else number >= low
        if ok and number is not None and high is not None:
            ok = number <= high
        return None if ok else f"must be {wanted}, got {value!r}"

    return check


def list_check(item: Callable[[Any], str | None], *, scalar_ok: bool = True) -> Callable[[Any], str | None]:
    """A ``check`` for a list whose items pass ``item`` (a single item too when ``scalar_ok``).

    >>> list_check(number_check(0, 255, integer=True))(["abc"])
    "item 1 must be a whole number from 0 to 255, got 'abc'"
    """

    def check(value: Any) -> str | None:
        items = value if isinstance(value, list | tuple) else [value] if scalar_ok else None
        if items is None:
            return f"must be a list, got {value!r}"
        for index, entry in enumerate(items, 1):
            problem = item(entry)
            if problem:
                return f"item {index} {problem}"
        return None

    return check


def arg_problems(specs: Mapping[str, Arg], args: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(argument, problem) for each argument whose value its spec's ``check`` refuses.

    Template strings (``"{{ x }}"``) are not judged: they are checked again once rendered.
    """
    problems = []
    for key, spec in specs.items():
        problem = arg_problem(spec, args.get(key))
        if problem:
            problems.append((key, problem))
    return problems


def arg_problem(spec: Arg, value: Any) -> str | None:
    """What ``spec``'s check refuses in ``value`` (one argument of ``arg_problems``), or None."""
    if spec.check is None or value is None or is_template(value) or spec.kind != "template":
        return None
    return spec.check(value)


@dataclass(frozen=True, slots=True)
class Measurement:
    """What ``sample`` measured, for the host's result: the typed sample and the probe's raw output
    (kept in hosts.jsonl)."""

    sample: HostSample
    raw: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one task produced on one host; the engine applies it, in this order, to the host's state.

    ``registered`` is what ``register:`` stores; ``findings``, ``verdict`` and ``remediation`` are added
    to the host's result; ``facts`` are ``set_fact`` layer updates (they outrank task vars and outlive
    the task); ``display`` is the ``-v`` detail of the task's line; ``host_facts`` replaces the result's
    facts, ``measurement`` its sample; ``profiles`` are added to its deep-dive profiles.
    """

    registered: Mapping[str, Any]
    findings: tuple[Finding, ...] = ()
    verdict: Verdict | None = None
    remediation: tuple[Remediation, ...] = ()
    facts: Mapping[str, Any] = field(default_factory=dict)
    display: str | None = None
    host_facts: Facts | None = None
    measurement: Measurement | None = None
    profiles: tuple[Profile, ...] = ()  # the deep dive's, one per process


class TaskFailed(DiagError):
    """The task failed on this host; ``result`` is still registered (with ``failed: true``).

    ``raw`` is the probe output the task could not use, kept in the run folder all the same.
    """

    def __init__(
        self, message: str, result: Mapping[str, Any] | None = None, *, raw: str | None = None
    ) -> None:
        self.message = message
        self.result = dict(result or {})
        self.raw = raw
        super().__init__(message)


class TaskSkipped(DiagError):
    """The task does not apply on this host (e.g. a verdict was already set); ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True, slots=True)
class HostContext:
    """What a module may read on one host while one task runs (it changes nothing: it returns an Outcome).

    ``variables`` is the merged variable scope of this task; ``verdict`` is the host's verdict so far
    (``None`` until a verdict task ran). ``transport()`` opens the connection on first use.
    """

    host: str
    task: str
    where: str
    verdict: Verdict | None
    variables: Mapping[str, Any]
    templar: Templar
    options: ConnectOptions
    open_transport: Callable[[], Transport]
    deadline: float  # time.monotonic() by which the whole host must be done
    verbosity: int = 0
    emit: Callable[[str], None] = field(default=lambda line: None)

    def transport(self) -> Transport:
        return self.open_transport()

    def command_timeout(self, wanted_s: float) -> float:
        """``--command-timeout`` when given, else ``wanted_s``; never past the host deadline."""
        timeout = self.options.command_timeout_s or wanted_s
        return max(0.5, min(timeout, self.deadline - time.monotonic()))

    def scope(self, extra: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
        return {**self.variables, **extra} if extra else self.variables

    # Positional-only, so ``extra`` may hold names such as ``value`` (check's message templates).
    def evaluate(self, expression: str, /, **extra: Any) -> Any:
        return self.templar.evaluate(expression, self.scope(extra))

    def render(self, template: Any, /, **extra: Any) -> Any:
        return self.templar.render(template, self.scope(extra))

    def value_of(self, source: Any, /, **extra: Any) -> Any:
        """A bare expression or a template, to its native value."""
        return self.templar.value_of(source, self.scope(extra))


class Module:
    """Base class: subclasses set ``name``, ``args`` (or ``any_args``) and implement ``run``.

    ``free_form`` names the argument a plain string maps to (``command: uptime`` -> ``cmd``).
    """

    name: ClassVar[str] = ""
    args: ClassVar[Mapping[str, Arg]] = {}
    free_form: ClassVar[str | None] = None
    any_args: ClassVar[bool] = False

    def check_args(self, args: Mapping[str, Any]) -> list[tuple[str, str | None]]:
        """Problems spanning several arguments, as (message, hint); checked before anything runs."""
        return []

    def skip_early(self, literals: Mapping[str, Any], ctx: HostContext) -> str | None:
        """Why the task does not apply on this host, from its literal arguments (the same on every
        host) before any argument is rendered; None when ``run`` decides. Rendering costs more than
        most modules' work: a suggestion for another verdict need not render its text."""
        return None

    def run(self, args: dict[str, Any], ctx: HostContext) -> Outcome:
        raise NotImplementedError


def as_float(value: Any, what: str) -> float | None:
    """A number from an evaluated argument; ``None`` stays ``None``; anything else fails the task."""
    if value is None:
        return None
    if isinstance(value, bool):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TaskFailed(f"{what} must be a number, got {value!r}") from None
