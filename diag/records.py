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
import types
import typing
from collections.abc import Mapping
from functools import cache
from typing import Any, TypeVar

T = TypeVar("T")


@cache
def _names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def to_data(value: Any) -> Any:
    """A record (or a tuple/list/mapping of them) as plain data, keys = field names."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {name: to_data(getattr(value, name)) for name in _names(type(value))}
    if isinstance(value, tuple | list):
        return [to_data(v) for v in value]
    if isinstance(value, Mapping):
        return {k: to_data(v) for k, v in value.items()}
    return value


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


@cache
def _defaults(cls: type) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


def _convert(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return _convert(options[0], value) if len(options) == 1 else value
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return from_data(hint, value) if isinstance(value, Mapping) else None
    if origin is tuple:
        args = typing.get_args(hint)
        item = args[0] if args else Any
        return tuple(_convert(item, v) for v in value) if isinstance(value, list | tuple) else ()
    if origin in (dict, Mapping) or origin is typing.get_origin(Mapping[str, Any]):
        args = typing.get_args(hint)
        item = args[1] if len(args) == 2 else Any
        return {str(k): _convert(item, v) for k, v in value.items()} if isinstance(value, Mapping) else {}
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def from_data(cls: type[T], data: Mapping[str, Any]) -> T:
    """Rebuild a record of type ``cls`` from ``to_data`` output (missing keys: defaults, else None)."""
    record: Any = cls
    hints, defaults = _hints(record), _defaults(record)
    kwargs = {
        name: _convert(hints[name], data[name]) if name in data else defaults.get(name)
        for name in _names(record)
    }
    built: T = cls(**kwargs)
    return built
