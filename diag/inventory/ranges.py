"""Host patterns as Ansible reads them: ``host:port`` splitting and ``[a:b:step]`` range expansion.

In: one host token from an INI line, a YAML ``hosts:`` key or a comma list.
Out: ``(hostnames, port)``; a bad range raises ``ValueError`` that the caller turns into an
``InventoryError`` with file:line.

>>> expand_host_pattern("web[01:03].example.com")
(['web01.example.com', 'web02.example.com', 'web03.example.com'], None)
>>> expand_host_pattern("db-[a:c]:2222")
(['db-a', 'db-b', 'db-c'], 2222)
>>> expand_hostname_range("mail[:4:2]")
['mail0', 'mail2', 'mail4']
"""

from __future__ import annotations

import re
import string

_NUMERIC_RANGE = r"\[[0-9]+:[0-9]+(?::[0-9]+)?\]"
_HEX_RANGE = r"\[(?:[0-9a-f]+:[0-9a-f]+)(?::[0-9]+)?\]"
_ALNUM_RANGE = r"\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]"
_IPV6_PART = rf"(?:[0-9a-f]{{1,4}}|{_HEX_RANGE})"
_IPV4_PART = rf"(?:[01]?[0-9]{{1,2}}|2[0-4][0-9]|25[0-5]|{_NUMERIC_RANGE})"
_LABEL = rf"(?:[\w]|{_ALNUM_RANGE})(?:[\w_-]|{_ALNUM_RANGE})*(?<![_-])"

# Same regexes as ansible.parsing.utils.addresses, so host:port splits identically.
_BRACKETED_HOSTPORT = re.compile(r"^\[(.+)\]:([0-9]+)$")
_HOSTPORT = re.compile(r"^((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)$")
IPV4 = re.compile(rf"^(?:{_IPV4_PART}\.){{3}}{_IPV4_PART}$", re.I)
_P = _IPV6_PART
IPV6 = re.compile(
    rf"""^((?:{_P}:){{7}}{_P}|(?:{_P}:){{1,6}}:|(?:{_P}:)(?::{_P}){{1,6}}|
    (?:{_P}:){{2}}(?::{_P}){{1,5}}|(?:{_P}:){{3}}(?::{_P}){{1,4}}|(?:{_P}:){{4}}(?::{_P}){{1,3}}|
    (?:{_P}:){{5}}(?::{_P}){{1,2}}|(?:{_P}:){{6}}(?::{_P})|:(?::{_P}){{1,6}}|{_P}?::|
    (?:0:){{6}}(?:{_P}\.){{3}}{_P}|::(?:ffff:)?(?:{_P}\.){{3}}{_P}|(?:0:){{5}}ffff:(?:{_P}\.){{3}}{_P})$""",
    re.X | re.I,
)
_HOSTNAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$", re.I | re.UNICODE)


def parse_address(address: str, *, allow_ranges: bool = True) -> tuple[str, int | None]:
    """Split ``host:port`` / ``[v6]:port``; ValueError when the host is not a valid name or address.

    >>> parse_address("[::1]:2222")
    ('::1', 2222)
    >>> parse_address("10.0.0.1")
    ('10.0.0.1', None)
    """
    port: int | None = None
    for pattern in (_BRACKETED_HOSTPORT, _HOSTPORT):
        match = pattern.match(address)
        if match:
            address, port = match.group(1), int(match.group(2))
    if not any(p.match(address) for p in (IPV4, IPV6, _HOSTNAME)):
        raise ValueError(f"not a valid network hostname: {address}")
    if not allow_ranges and "[" in address:
        raise ValueError("detected range in host but ranges are not allowed here")
    return address, port


def expand_hostname_range(line: str) -> list[str]:
    """Expand the first ``[beg:end(:step)]`` in ``line``, recursively for the rest (ansible's rules).

    >>> expand_hostname_range("www[001:003]")
    ['www001', 'www002', 'www003']
    """
    head, sep, rest = line.partition("[")
    nrange, sep2, tail = rest.partition("]")
    if not sep or not sep2:
        raise ValueError(f"unbalanced '[' in host range {line!r}")
    bounds = nrange.split(":")
    if len(bounds) not in (2, 3):
        raise ValueError(f"host range must be begin:end or begin:end:step, got [{nrange}]")
    beg, end = bounds[0] or "0", bounds[1]
    step = bounds[2] if len(bounds) == 3 else "1"
    if not end:
        raise ValueError(f"host range must specify an end value, got [{nrange}]")
    width = 0
    if beg[0] == "0" and len(beg) > 1:
        width = len(beg)
        if width != len(end):
            raise ValueError(f"host range must specify equal-length begin and end formats, got [{nrange}]")
    try:
        step_n = int(step)
        if beg in string.ascii_letters and end in string.ascii_letters:
            i_beg, i_end = string.ascii_letters.index(beg), string.ascii_letters.index(end)
            if i_beg > i_end:
                raise ValueError(f"host range must have begin <= end, got [{nrange}]")
            seq: list[str] = list(string.ascii_letters[i_beg : i_end + 1 : step_n])
        else:
            seq = [str(n).zfill(width) for n in range(int(beg), int(end) + 1, step_n)]
    except ValueError as exc:
        if "host range" in str(exc):
            raise
        raise ValueError(f"bad host range [{nrange}] in {line!r}: {exc}") from None
    hosts: list[str] = []
    for item in seq:
        name = f"{head}{item}{tail}"
        hosts.extend(expand_hostname_range(name) if "[" in name else [name])
    return hosts


def expand_host_pattern(pattern: str) -> tuple[list[str], int | None]:
    """One inventory host token -> expanded host names and the port that applies to all of them."""
    try:
        host, port = parse_address(pattern)
    except ValueError:
        # Not a recognisable address: ansible keeps the text as the host name, ranges and all.
        host, port = pattern, None
    if "[" in host:
        return expand_hostname_range(host), port
    return [host], port
