"""The INI reader's fast paths give what the slow ones give, always (hypothesis as the oracle's referee).

A 1,000-host INI inventory cost ~0.3 s of CPU before its first host connected: an extensionless file
was scanned whole as YAML first, each host line went through ``shlex`` and each value through
``ast.literal_eval``. Each now has a fast path for the text that cannot differ (plain host lines,
names/paths/addresses, files that open with a section header); these tests hold them to the slow result.
"""

from __future__ import annotations

import ast
import shlex
import warnings
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diag.inventory import load_inventory
from diag.inventory.ini import _coerce, parse_value, split_host_line
from diag.shared.errors import InventoryError


def _literal_or_text(text: str) -> object:
    """parse_value's slow path (ansible's rule), the oracle."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text
    return _coerce(value)


def _shlex_or_error(line: str) -> list[str] | str:
    try:
        return shlex.split(line, comments=True)
    except ValueError as exc:
        return f"ValueError: {exc}"


def _split_or_error(line: str) -> list[str] | str:
    try:
        return split_host_line(line)
    except ValueError as exc:
        return f"ValueError: {exc}"


_LINE_CHARS = st.sampled_from(
    [*"ab1=/._-:[]", " ", "\t", "\r", "\n", "\x0b", "\xa0", "\u2003", *"\"'\\#", "é"]
)


@settings(max_examples=600, deadline=None)
@given(st.text(_LINE_CHARS, max_size=30))
def test_a_host_line_splits_as_shlex_splits_it(line: str) -> None:
    assert _split_or_error(line) == _shlex_or_error(line)


_PLAIN = st.from_regex(r"[A-Za-z_/][A-Za-z0-9_./-]*|[0-9]+(\.[0-9]+){2,}|[0-9]{1,20}", fullmatch=True)
_VALUE_CHARS = st.sampled_from([*"TrueFalsNonje_/.-+0123456789xXbB()[]{}'\" ,:"])


@settings(max_examples=600, deadline=None)
@given(st.one_of(_PLAIN, st.text(_VALUE_CHARS, max_size=12)))
def test_a_value_is_what_literal_eval_makes_of_it(text: str) -> None:
    got, want = parse_value(text), _literal_or_text(text)
    assert (type(got), got) == (type(want), want)


@pytest.mark.parametrize(
    "text",
    ["True", "False", "None", "True-1j", "None/x", "lambda/x", "not/x", "1.2.3", "01.2.3", "10.0.0.1",
     ".5", "1_000", "0", "00", "0123", "2222", "99999999999999999999",
     "0x1f", "inf", "nan", "...", "/", "a.b", "a-b", "/keys/id_ed25519", "_", "-1"],
)  # fmt: skip
def test_the_values_that_look_like_names_but_may_not_be(text: str) -> None:
    got, want = parse_value(text), _literal_or_text(text)
    assert (type(got), got) == (type(want), want)


_INI = """# the web tier
; an INI comment
[web]
web[1:3] ansible_host=10.0.0.1 ansible_port=2222 key=/keys/id_ed25519 flag=True devices="['/dev/sda']"
db1 ansible_user='ops team' x=1.5   # trailing comment

[web:vars]
ansible_become=true
"""


def test_an_extensionless_ini_file_loads_as_the_same_file_named_ini(tmp_path: Path) -> None:
    (tmp_path / "hosts").write_text(_INI)
    (tmp_path / "hosts.ini").write_text(_INI)
    plain = load_inventory([str(tmp_path / "hosts")])
    named = load_inventory([str(tmp_path / "hosts.ini")])
    assert [(h.name, h.vars, h.groups) for h in plain.select("all")] == [
        (h.name, h.vars, h.groups) for h in named.select("all")
    ]
    assert plain.select("web")[0].vars["devices"] == ["/dev/sda"]


def test_an_extensionless_ini_file_with_a_bad_line_says_what_the_ini_reader_says(tmp_path: Path) -> None:
    bad = _INI + "[db]\nweb9 novalue\n"
    (tmp_path / "hosts").write_text(bad)
    (tmp_path / "hosts.ini").write_text(bad)
    errors = []
    for name in ("hosts", "hosts.ini"):
        with pytest.raises(InventoryError) as caught:
            load_inventory([str(tmp_path / name)])
        errors.append((caught.value.message, caught.value.where.rsplit(":", 1)[-1]))
    assert errors[0] == errors[1]
    assert "Expected key=value host variable assignment" in errors[0][0]


def test_an_extensionless_yaml_file_is_still_read_as_yaml(tmp_path: Path) -> None:
    (tmp_path / "hosts").write_text("# yaml\nall:\n  hosts:\n    web1:\n      ansible_port: 2222\n")
    (host,) = load_inventory([str(tmp_path / "hosts")]).select("all")
    assert (host.name, host.vars["ansible_port"]) == ("web1", 2222)
