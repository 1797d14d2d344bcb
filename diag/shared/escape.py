r"""Text from hosts made safe to show: one visible line on a terminal or in a log, inert in markdown.

In: any value that came from a host (comm, cmdline, cgroup paths, stderr, host names, fact values).
Out: ``escape_terminal`` gives one line with every control character, DEL, C1 code, newline and
backslash written as a visible escape (``\x1b``, ``\n``, ``\\``), so a process named
``\x1b]0;PWN\x07\x1b[2J`` cannot set the operator's window title, clear the screen or forge a line;
``escape_markdown`` gives the same text with markdown's specials backslash-escaped, so a name cannot
break a table, open a link or start raw HTML in ``report.md``; ``md_code`` gives an inline code span.
JSON, CSV and the run folder keep the exact value: escaping happens only where text is rendered.

>>> escape_terminal("\x1b]0;PWN\x07\x1b[2J")
'\\x1b]0;PWN\\x07\\x1b[2J'
>>> print(escape_terminal("b\\n\\\\q\nALERT fake"))
b\\n\\\\q\nALERT fake
>>> print(escape_markdown("a|b <img> *x* [y](z) \x1b"))
a\|b \<img> \*x\* [y\](z) \\x1b
>>> md_code("a`b"), md_code("\x9b2J")
('``a`b``', '`\\x9b2J`')
"""

from __future__ import annotations

import re

__all__ = [
    "Markdown",
    "escape_lines",
    "escape_markdown",
    "escape_terminal",
    "md_cell",
    "md_code",
    "md_fence",
    "md_with_code",
]

_NAMED = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
# What CommonMark/GFM could read as markup in a line of text (nothing here starts a line, so
# block syntax cannot arise): backslash, code, emphasis, strikethrough, table pipes; '_' unless
# inside a word (it cannot open or close emphasis there: MAP_POPULATE stays as is); '<' that could
# open raw HTML or an autolink (not '< 10', '<1 %'); '&' that could make an entity; ']' that could
# close a link's text ('](' or '][': pfdiag's own 'web[01-06]' stays readable, and with no line of
# host text there is no link definition for a lone '[x]' to use)
_MD_SPECIAL = re.compile(
    r"[\\`*~|]|(?<![^\W_])_|_(?![^\W_])|<(?![\s=]|[\d.]+(?:\s|$))|&(?=#|\w+;)|\](?=[(\[])"
)


def _visible(char: str) -> str:
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def escape_terminal(value: object) -> str:
    r"""One visible line: C0/C1 controls, DEL, newline, backslash and other non-printing characters
    (bidi overrides, zero-width marks, line separators) as Python-style escapes; the rest as is.

    >>> escape_terminal("java"), escape_terminal("tab\there"), escape_terminal("\u202eevil")
    ('java', 'tab\\there', '\\u202eevil')
    >>> escape_terminal("\x7f\x85é日本")
    '\\x7f\\x85é日本'
    """
    text = str(value)
    if text.isprintable() and "\\" not in text:
        return text
    return "".join(c if c.isprintable() and c != "\\" else _visible(c) for c in text)


def escape_lines(value: object) -> str:
    r"""Several lines pfdiag itself broke (an error and its hint): each line escaped, breaks kept.

    >>> print(escape_lines("bad name '\x1b[2J'\n  hint: rename it"))
    bad name '\x1b[2J'
      hint: rename it
    """
    return "\n".join(escape_terminal(line) for line in str(value).split("\n"))


def escape_markdown(value: object) -> str:
    r"""Text for a markdown paragraph or table cell: ``escape_terminal``, then markdown's specials
    backslash-escaped where they could be read as markup, so it renders as the terminal shows it.

    >>> escape_markdown("web_01 _x_ <b> <1 % &amp; x\\y")
    'web_01 \\_x\\_ \\<b> <1 % \\&amp; x\\\\\\\\y'
    """
    return _MD_SPECIAL.sub(lambda m: "\\" + m[0], escape_terminal(value))


class Markdown(str):
    """Text already written as markdown (a code span, pfdiag's own words around one): ``md_cell``
    takes it as is instead of escaping it again."""

    __slots__ = ()


def md_code(value: object) -> Markdown:
    """Inline code (escapes are not read inside it): the text made visible, in a fence of backticks
    longer than any run of backticks it holds, padded with a space each side where markdown would
    otherwise join a backtick to the fence or strip a space of the text.

    >>> md_code("java"), md_code("a``b"), md_code("`"), md_code(" x ")
    ('`java`', '```a``b```', '`` ` ``', '`  x  `')
    """
    text = escape_terminal(value) or " "
    runs = re.findall(r"`+", text)
    fence = "`" * (max(map(len, runs), default=0) + 1)
    pad = " " if text.strip(" ") and (text[0] in "` " or text[-1] in "` ") else ""
    return Markdown(f"{fence}{pad}{text}{pad}{fence}")


def md_with_code(value: object) -> Markdown:
    r"""A sentence that marks names with backticks (a deep dive's headline, a check's message): the
    marked parts as code spans, the rest escaped. A backtick inside a name can only mis-pair the marks,
    never let markup through: every part is escaped or made a code span by ``md_code``.

    >>> md_with_code("62 % in `fill_buffer` (/opt/a_b/<x>)")
    '62 % in `fill_buffer` (/opt/a_b/\\<x>)'
    """
    parts = re.split(r"`([^`]*)`", str(value))
    return Markdown(
        "".join(md_code(part) if i % 2 else escape_markdown(part) for i, part in enumerate(parts))
    )


def md_cell(value: object) -> str:
    r"""A markdown table cell: any value escaped (``escape_markdown``: one line, a newline shown as
    ``\n``); ``Markdown`` kept, its pipes escaped (GitHub reads ``\|`` as a pipe even inside a code
    span in a table).

    >>> md_cell("a|b\nc"), md_cell(md_code("a|b")), md_cell(2.5)
    ('a\\|b\\\\nc', '`a\\|b`', '2.5')
    """
    if isinstance(value, Markdown):
        return value.replace("|", "\\|")
    return escape_markdown(value)


def md_fence(lines: list[str], info: str = "", *, visible: bool = False) -> list[str]:
    """A fenced code block of ``lines``, each made visible (``visible``: the caller already did),
    fenced longer than any backtick run in them (a line of host text cannot close it early).

    >>> md_fence(["ls", "```x"], "sh")
    ['````sh', 'ls', '```x', '````']
    """
    shown = list(lines) if visible else [escape_terminal(line) for line in lines]
    longest = max((len(run) for line in shown for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + info, *shown, fence]
