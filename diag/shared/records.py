"""The one serialiser of pfdiag's records: frozen dataclasses -> plain data, and plain data -> records.

In: any frozen dataclass record (``diag.probe.measurements.HostSample`` and everything inside it).
Out: ``to_data(record)``, the dict/list/scalar tree keyed by the records' field names (what
``register:`` stores, what the JSON holds), and ``from_data(cls, data)``, the record rebuilt from
that tree (``pfdiag report`` on a saved run). A measurement's name is its field name, defined once:
renaming a field renames the key everywhere, and code reading the record by attribute is checked by
mypy. ``from_data`` is lenient about age: a key an older pfdiag did not write takes the field's
default (or None), and a key it does not know is ignored.

>>> from dataclasses import dataclass
>>> @dataclass(frozen=True, slots=True)
... class Point:
...     x: int
...     tags: tuple[str, ...] = ()
...     label: str | None = None
>>> to_data(Point(1, ("a",)))
{'x': 1, 'tags': ['a'], 'label': None}
>>> from_data(Point, {"x": 2, "tags": ["b"], "extra": 0})
Point(x=2, tags=('b',), label=None)
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable, Hashable, Mapping
from functools import cache
from typing import Any, TypeVar

from diag.shared.limits import MAX_SHARED_VALUES

T = TypeVar("T")


@cache
def _names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


_SCALARS = (int, float, str, bool, type(None))


def _walker(dumper: Callable[[type], Callable[[Any], dict[str, Any]]]) -> Callable[[Any], Any]:
    """The walk of ``to_data`` and ``to_sparse_data``, made once for each: ``dumper`` writes one record
    class. (A closure, not a parameter passed down: this walk runs for every value of every host.)"""

    def walk(value: Any) -> Any:
        kind: Any = type(value)
        if kind in _SCALARS:
            return value
        if hasattr(kind, "__dataclass_fields__"):
            return dumper(kind)(value)
        if isinstance(value, tuple | list):
            return [walk(v) for v in value]
        if isinstance(value, Mapping):
            return {k: walk(v) for k, v in value.items()}
        return value

    return walk


def to_data(value: Any) -> Any:
    """A record (or a tuple/list/mapping of them) as plain data, keys = field names."""
    return _to_data(value)


def _is_scalar(hint: Any) -> bool:
    """Whether a field's type is a scalar (or a union of them): its value is its own plain data."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return all(_is_scalar(a) for a in typing.get_args(hint))
    return hint in _SCALARS


@cache
def _dumper(cls: type) -> Callable[[Any], dict[str, Any]]:
    """``to_data`` for one record class, generated once from its fields' types (as ``dataclasses``
    generates ``__init__``): a scalar field is read as it is, any other goes through ``to_data``.
    A host's sample is ~1,000 values, and a call per value was most of its cost."""
    hints = typing.get_type_hints(cls)
    items = ", ".join(
        f"{name!r}: v.{name}" if _is_scalar(hints[name]) else f"{name!r}: to_data(v.{name})"
        for name in _names(cls)
    )
    namespace: dict[str, Any] = {"to_data": _to_data}
    exec(f"def dump(v):\n    return {{{items}}}\n", namespace)  # the names are field names
    dump: Callable[[Any], dict[str, Any]] = namespace["dump"]
    return dump


def to_sparse_data(value: Any) -> Any:
    """``to_data`` without what ``from_data`` restores anyway: None fields (their default is None or they
    have none) and fields at their plain default (a 0 counter, a false flag, an empty string), each of
    the same type and sign as the default: what a run folder stores, where a host's ~20 process records
    carry ~3 KB of nulls and ~2.5 KB of zeros. ``from_data(cls, to_sparse_data(r)) == from_data(cls,
    to_data(r))``, and the same types: an int 0 in a float field is stored, -0.0 too.

    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True, slots=True)
    ... class Proc:
    ...     pid: int
    ...     rss_kib: int | None
    ...     label: str | None = "x"
    ...     delta: int = 0
    ...     rate: float = 0.0
    ...     new: bool = False
    >>> to_sparse_data([Proc(1, None, None), Proc(3, None)])
    [{'pid': 1, 'label': None}, {'pid': 3}]
    >>> to_sparse_data(Proc(2, 5, "y", 3, -0.0, True))
    {'pid': 2, 'rss_kib': 5, 'label': 'y', 'delta': 3, 'rate': -0.0, 'new': True}
    >>> from_data(Proc, {'pid': 1, 'label': None})
    Proc(pid=1, rss_kib=None, label=None, delta=0, rate=0.0, new=False)
    """
    return _to_sparse_data(value)


_PLAIN_DEFAULTS = (bool, int, float, str)


@cache
def _sparse_dumper(cls: type) -> Callable[[Any], dict[str, Any]]:
    """``to_sparse_data`` for one record class, generated once like ``_dumper``."""
    hints = typing.get_type_hints(cls)
    lines = ["def dump(v):", "    d = {}"]
    namespace: dict[str, Any] = {"to_sparse_data": _to_sparse_data, "copysign": math.copysign}
    for f in dataclasses.fields(cls):
        value = f"v.{f.name}" if _is_scalar(hints[f.name]) else f"to_sparse_data(v.{f.name})"
        restored_as_none = _default_of(f)() is None if f.default_factory is dataclasses.MISSING else False
        default = f.default
        if restored_as_none:
            lines += [f"    x = v.{f.name}", f"    if x is not None: d[{f.name!r}] = {value}"]
        elif type(default) in _PLAIN_DEFAULTS and not (isinstance(default, float) and math.isnan(default)):
            namespace[f"D_{f.name}"], namespace[f"T_{f.name}"] = default, type(default)
            same = f"type(x) is T_{f.name} and x == D_{f.name}"
            if isinstance(default, float):  # -0.0 == 0.0, but it is written "-0.0"
                same += f" and copysign(1.0, x) == {math.copysign(1.0, default)!r}"
            lines += [f"    x = v.{f.name}", f"    if not ({same}): d[{f.name!r}] = {value}"]
        else:
            lines.append(f"    d[{f.name!r}] = {value}")
    exec("\n".join([*lines, "    return d", ""]), namespace)  # the names are field names
    dump: Callable[[Any], dict[str, Any]] = namespace["dump"]
    return dump


def _default_of(f: dataclasses.Field[Any]) -> Callable[[], Any]:
    if f.default is not dataclasses.MISSING:
        value = f.default
        return lambda: value
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory  # called per record: no two records share a default dict
    return lambda: None


Converter = Callable[[Any], Any]


def _keep(value: Any) -> Any:
    return value


def _converter(hint: Any) -> Converter:
    """A function turning plain data into a value of type ``hint`` (built once per field)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        inner = _converter(options[0]) if len(options) == 1 else _keep
        return lambda v: None if v is None else inner(v)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        record = hint
        return lambda v: from_data(record, v) if isinstance(v, Mapping) else None
    if origin is tuple:
        args = typing.get_args(hint)
        item = _converter(args[0]) if args else _keep
        return lambda v: tuple(item(x) for x in v) if isinstance(v, list | tuple) else ()
    if origin in (dict, Mapping) or origin is typing.get_origin(Mapping[str, Any]):
        args = typing.get_args(hint)
        value = _converter(args[1]) if len(args) == 2 else _keep
        return lambda v: {str(k): value(x) for k, x in v.items()} if isinstance(v, Mapping) else {}
    if hint is float:
        return lambda v: float(v) if type(v) is int else v
    return _keep


@cache
def _plan(cls: type) -> tuple[tuple[str, Converter, Callable[[], Any]], ...]:
    hints = typing.get_type_hints(cls)
    return tuple((f.name, _converter(hints[f.name]), _default_of(f)) for f in dataclasses.fields(cls))


def from_data(cls: type[T], data: Mapping[str, Any]) -> T:
    """Rebuild a record of type ``cls`` from ``to_data`` output (missing keys: defaults, else None)."""
    record: Any = cls
    kwargs = {
        name: convert(data[name]) if name in data else default() for name, convert, default in _plan(record)
    }
    built: T = cls(**kwargs)
    return built


_to_data = _walker(_dumper)
_to_sparse_data = _walker(_sparse_dumper)


_SHARED: dict[Hashable, Any] = {}


def shared(value: T, key: Hashable) -> T:
    """The one object kept for ``key`` (``value`` when it is the first): ``sys.intern`` for any value,
    so what every host's brief repeats (its kernel's facts, a not-evaluable reason, a threshold) is held
    once, not once a host. ``key`` identifies the value with its type (``1 == 1.0 == True``); past
    ``MAX_SHARED_VALUES`` keys, or for a value not equal to itself (NaN), ``value`` is returned unshared.
    Only for values no one changes afterwards: every holder gets the same object.

    >>> a, b = shared(1.5, (float, 1.5)), shared(float("1.5"), (float, 1.5))
    >>> a is b, shared(1, (int, 1)) is a
    (True, False)
    """
    if value != value or (key not in _SHARED and len(_SHARED) >= MAX_SHARED_VALUES):
        return value
    kept: T = _SHARED.setdefault(key, value)
    return kept
