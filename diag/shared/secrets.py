"""Secrets never leave the process: which variable names are secret, and their values masked out.

In: variable mappings (``-e`` vars, inventory host vars), ``argv``, and any text or JSON-able data on
its way out (terminal lines, ``run.json``, ``hosts.jsonl``, reports, error messages). Out: the same
with secret values replaced by ``MASK``. A name is secret when it is one of Ansible's connection
secrets (``ansible_password``, ``ansible_ssh_pass``, ``ansible_become_pass``...) or contains
``password``, ``passwd``, ``passphrase``, ``secret`` or ``token``. Values are masked by name where the
name is known (mappings, ``-e k=v``) and by value everywhere else (a secret templated into a message).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import yaml

from diag.shared.errors import DiagError
from diag.shared.yamlsafe import load_text

MASK = "********"
# Ansible's own secret variables; the generic rule below covers them too, the list documents them.
ANSIBLE_SECRET_NAMES = frozenset(
    {
        "ansible_password",
        "ansible_ssh_pass",
        "ansible_ssh_password",
        "ansible_become_password",
        "ansible_become_pass",
        "ansible_sudo_pass",
        "ansible_ssh_private_key_passphrase",
    }
)
_SECRET_WORDS = re.compile(r"pass(word|wd|phrase)?$|password|passwd|passphrase|secret|token", re.IGNORECASE)
# Values this short are masked only where their name says they are secret: masking every "1" or "x"
# in a report would destroy it and tell an attacker the secret's length.
MIN_VALUE_LEN = 4


def is_secret_name(name: str) -> bool:
    """Whether a variable of this name holds a secret.

    >>> [is_secret_name(n) for n in ("ansible_ssh_pass", "db_password", "API_TOKEN", "interval_s")]
    [True, True, True, False]
    """
    return name.lower() in ANSIBLE_SECRET_NAMES or bool(_SECRET_WORDS.search(name))


def redact_vars(variables: Mapping[str, Any]) -> dict[str, Any]:
    """A copy with every secret-named value replaced by ``MASK``, at any depth (lists included).

    >>> redact_vars({"ansible_password": "hunter2", "interval_s": 1, "db": {"token": "t0k"}})
    {'ansible_password': '********', 'interval_s': 1, 'db': {'token': '********'}}
    >>> redact_vars({"hosts": [{"api_token": ["a", "b"]}], "tokens": {"inner": {"deep": "x"}}})
    {'hosts': [{'api_token': '********'}], 'tokens': '********'}
    """
    out: dict[str, Any] = {}
    for key, value in variables.items():
        out[key] = MASK if isinstance(key, str) and is_secret_name(key) else _redact_value(value)
    return out


def secret_names(variables: Mapping[str, Any], prefix: str = "") -> list[str]:
    """The secret-named variables in ``variables``, at any depth, as dotted paths.

    >>> secret_names({"ansible_password": "x", "interval_s": 1, "db": {"token": "t"}, "l": [{"a_secret": 1}]})
    ['ansible_password', 'db.token', 'l.a_secret']
    """
    found: list[str] = []
    for key, value in variables.items():
        path = f"{prefix}{key}"
        if isinstance(key, str) and is_secret_name(key):
            found.append(path)
            continue
        items = value if isinstance(value, list | tuple) else [value]
        for item in items:
            if isinstance(item, Mapping):
                found += secret_names(item, f"{path}.")
    return found


def _redact_value(value: Any) -> Any:
    if isinstance(value, Mapping):
        return redact_vars(value)
    if isinstance(value, list | tuple):
        return [_redact_value(item) for item in value]
    return value


def _redact_extra_var(text: str) -> str:
    """One ``-e`` value: ``k=v`` pairs and JSON/YAML mappings keep their keys, lose secret values."""
    stripped = text.strip()
    if stripped.startswith("@"):
        return text  # a file name, not the secret itself
    if stripped.startswith("{"):
        try:
            data = load_text(stripped)
        except yaml.YAMLError:
            data = None
        if isinstance(data, Mapping):
            return json.dumps(redact_vars(data), default=str)
    # k=v pairs, values possibly quoted: mask from the '=' to the end of the (quoted) value.
    pattern = r"([A-Za-z_][A-Za-z0-9_]*)=('[^']*'|\"[^\"]*\"|\S*)"

    def mask(match: re.Match[str]) -> str:
        return f"{match[1]}={MASK}" if is_secret_name(match[1]) else match[0]

    return re.sub(pattern, mask, text)


# A URL's query parameters that carry credentials: secret names, plus the API conventions (api_key,
# sig of a signed URL, auth, access_key, credential) that are not variable names pfdiag would mask.
_SECRET_PARAMS = re.compile(r"key|sig|auth|credential|session", re.IGNORECASE)
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")
_USERINFO = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^/?#@:\s]*):(?P<password>[^/?#\s]*)@")
_QUERY_PAIR = re.compile(r"(?P<head>(?:^|[&;])(?P<name>[^=&;#]*)=)(?P<value>[^&;#]*)")
# In a command: an HTTP header naming a credential, and curl's -u/--user USER:PASSWORD.
_HEADER = re.compile(
    r"(?P<head>\b(?:authorization|proxy-authorization|[\w-]*(?:token|key|secret)[\w-]*)\s*:\s*)"
    r"(?P<value>[^'\"\n]+)",
    re.IGNORECASE,
)
_CURL_USER = re.compile(r"(?P<head>(?:-u|--user)(?:\s+|=)['\"]?[^:\s'\"]*:)(?P<value>[^\s'\"]+)")


def mask_url(url: str) -> str:
    """A URL with its userinfo password and credential-like query values masked (for logs, reports).

    >>> mask_url("https://bot:hunter22@hooks.example/a?channel=ops&token=abc&api_key=k&sig=s#x")
    'https://bot:********@hooks.example/a?channel=ops&token=********&api_key=********&sig=********#x'
    >>> mask_url("http://127.0.0.1:9093/api/v2/alerts")
    'http://127.0.0.1:9093/api/v2/alerts'
    """
    url = _USERINFO.sub(lambda m: f"{m['head']}:{MASK}@", url, count=1)
    base, mark, query = url.partition("?")
    if not mark:
        return url
    query, hash_mark, fragment = query.partition("#")

    def mask(match: re.Match[str]) -> str:
        name = urllib.parse.unquote_plus(match["name"])
        secret = is_secret_name(name) or _SECRET_PARAMS.search(name)
        return match["head"] + (MASK if secret and match["value"] else match["value"])

    return base + mark + _QUERY_PAIR.sub(mask, query) + hash_mark + fragment


def mask_command(command: str) -> str:
    """A shell command (``--notify CMD``) with the credentials it carries masked: URLs as ``mask_url``,
    credential headers, curl's ``-u user:password``, secret-named ``NAME=value`` (to the line's end).

    >>> mask_command("curl -sf -u ops:pw1 -H 'Authorization: Bearer abc' 'https://x/h?token=t' -d @-")
    "curl -sf -u ops:******** -H 'Authorization: ********' 'https://x/h?token=********' -d @-"
    >>> mask_command("SLACK_TOKEN=xoxb-1 notify-send pfdiag")
    'SLACK_TOKEN=********'
    """
    out, start = [], 0
    for url in [*_URL.finditer(command), None]:  # URLs masked as URLs, the text between them as text
        between = command[start : url.start() if url else len(command)]
        between = _HEADER.sub(lambda m: m["head"] + MASK, between)
        out.append(mask_assignments(_CURL_USER.sub(lambda m: m["head"] + MASK, between)))
        if url:
            out.append(mask_url(url[0]))
            start = url.end()
    return "".join(out)


# The options whose value is a notifier (``audit`` and ``watch``), and how each is masked.
_NOTIFIER_OPTIONS = {"--notify": mask_command, "--notify-url": mask_url}


def redact_argv(argv: Sequence[str]) -> list[str]:
    """The command line with the values of secret ``-e`` variables and notifiers' credentials masked.

    >>> redact_argv(["run", "t.yml", "-e", "ansible_password=x interval_s=1", "--extra-vars={'token': 'y'}"])
    ['run', 't.yml', '-e', 'ansible_password=******** interval_s=1', '--extra-vars={"token": "********"}']
    >>> redact_argv(["audit", "--notify-url", "https://h/x?key=k1", "--notify=curl -u a:b https://h"])
    ['audit', '--notify-url', 'https://h/x?key=********', '--notify=curl -u a:******** https://h']
    """
    out: list[str] = []
    after_e = False
    masker: Callable[[str], str] | None = None
    for arg in argv:
        option, equals, value = arg.partition("=")
        if masker is not None:
            out.append(masker(arg))
            masker = None
        elif after_e:
            out.append(_redact_extra_var(arg))
            after_e = False
        elif arg in _NOTIFIER_OPTIONS:
            out.append(arg)
            masker = _NOTIFIER_OPTIONS[arg]
        elif equals and option in _NOTIFIER_OPTIONS:
            out.append(option + "=" + _NOTIFIER_OPTIONS[option](value))
        elif arg in ("-e", "--extra-vars"):
            out.append(arg)
            after_e = True
        elif arg.startswith("--extra-vars="):
            out.append("--extra-vars=" + _redact_extra_var(arg.split("=", 1)[1]))
        elif arg.startswith("-e") and not arg.startswith("--"):
            out.append("-e" + _redact_extra_var(arg[2:]))
        else:
            out.append(arg)
    return out


def secret_values(*sources: Mapping[str, Any]) -> set[str]:
    """The string form of every scalar held by a secret-named variable, at any depth, in ``sources``.

    >>> sorted(secret_values({"list_token": ["t-one", 22], "x": [{"tokens": {"inner": {"deep": "d33p"}}}]}))
    ['22', 'd33p', 't-one']
    """
    found: set[str] = set()
    for source in sources:
        _collect(source, False, found)
    return found


def _collect(value: Any, secret: bool, found: set[str]) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            _collect(item, secret or (isinstance(key, str) and is_secret_name(key)), found)
    elif isinstance(value, list | tuple | set):
        for item in value:
            _collect(item, secret, found)
    elif secret and value not in (None, "") and not isinstance(value, bool):
        found.add(str(value))


# ``name: value`` / ``name=value`` inside a message (a line quoted back by a parser): for a secret
# name, everything after the separator up to the end of the line is masked.
_ASSIGNMENT = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<sep>['\"]?\s*[:=]\s*)(?P<rest>[^\n]+)")


def mask_assignments(text: str) -> str:
    """``text`` with the value after every secret-named ``name=``/``name:`` masked to the line's end.

    >>> mask_assignments("-e 'api_token: X: more': 'api_token:' is not key=value")
    "-e 'api_token: ********"
    >>> mask_assignments("bad line: web1 ansible_password='abc interval_s=1")
    'bad line: web1 ansible_password=********'
    """

    def mask(match: re.Match[str]) -> str:
        if not is_secret_name(match["name"]):
            return match["name"] + match["sep"] + mask_assignments(match["rest"])
        return f"{match['name']}{match['sep']}{MASK}"

    return _ASSIGNMENT.sub(mask, text)


def argv_redactor(argv: Sequence[str], parse: Callable[[str], Mapping[str, Any]]) -> Redactor:
    """A ``Redactor`` of the secret ``-e`` values on a command line, for its error messages.

    ``parse`` reads one ``-e`` value (``diag.playbook.language.variables.parse_extra_var``, which may read an
    ``@file``); a value that does not parse is skipped: its error is the message being masked.

    >>> argv_redactor(["run", "-e", "ssh_pass=hunter22", "-e", "x=1"], lambda v: dict([v.split("=")])).values
    ['hunter22']
    """
    values: set[str] = set()
    for flag, value in itertools.pairwise(argv):
        if flag in ("-e", "--extra-vars"):
            with contextlib.suppress(DiagError):
                values |= secret_values(parse(value))
    return Redactor(values)


class Redactor:
    """Masks known secret values in text and in JSON-able data; longest values first.

    >>> r = Redactor({"s3cr3t-pw", "ab"})
    >>> r.text("login with s3cr3t-pw failed"), r.data({"msg": ["s3cr3t-pw"], "n": 1})
    ('login with ******** failed', {'msg': ['********'], 'n': 1})
    """

    def __init__(self, values: Iterable[str]) -> None:
        self.values = sorted({v for v in values if len(v) >= MIN_VALUE_LEN}, key=len, reverse=True)

    def text(self, text: str) -> str:
        for value in self.values:
            if value in text:
                text = text.replace(value, MASK)
        return text

    def data(self, data: Any) -> Any:
        """A copy of ``data`` (dicts, lists, strings) with secret values masked in every string."""
        if not self.values:
            return data
        if isinstance(data, str):
            return self.text(data)
        if isinstance(data, Mapping):
            return {self.data(k): self.data(v) for k, v in data.items()}
        if isinstance(data, list | tuple):
            return [self.data(v) for v in data]
        return data
