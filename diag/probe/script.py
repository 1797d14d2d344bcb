"""Build the one shell command string sent to a host: ``sh -c '<probe.sh>' pfdiag ARGS``.

The script text lives in ``probe.sh`` beside this module (lint it, run it by hand); every value
is quoted, so the string is safe to run through any POSIX login shell.

The files it reads come from the source declarations (``diag.probe.sources``), the facts' files
from ``diag.probe.facts.FILE_FACTS``, the status lines from ``diag.probe.pidstat.STATUS_KEYS``.

>>> probe_command(interval_s=1, top_n=5, perf=False).rsplit("' pfdiag ", 1)[1][:44]
"probe 1 5 0 '' '' '' 'k:/proc/vmstat=pgfault"
"""

from __future__ import annotations

import re
import shlex
from functools import cache, lru_cache
from pathlib import Path

from diag.probe.facts import FILE_FACTS
from diag.probe.pidstat import STATUS_KEYS
from diag.probe.sources import ONCE, TWICE, files_arg
from diag.shared.errors import UsageError
from diag.shared.limits import MAX_BUNDLE_BYTES, MAX_MEMCGS

SCRIPT_PATH = Path(__file__).with_name("probe.sh")


@cache
def probe_script() -> str:
    """The text of probe.sh (read once)."""
    return SCRIPT_PATH.read_text(encoding="utf-8")


def _number(value: float) -> str:
    # `sleep` in busybox takes fractions only when built with FANCY_SLEEP; whole numbers always work
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}".rstrip("0")


# The same few commands for every host of a run: quoting the ~10 KB script was ~60 us a host.
# ``typed``: 20 and 20.0 are one key otherwise, and they print differently.
@lru_cache(maxsize=64, typed=True)
def _command(
    mode: str,
    interval_s: float,
    top_n: int,
    perf: bool,
    deadline_s: float | None,
    exclude_pid: int | None = None,
    exclude_boot_id: str | None = None,
    locked_min_kib: int = 0,
    oci_root: str = "/",
) -> str:
    args = [mode, _number(interval_s), str(top_n), "1" if perf else "0"]
    args.append("" if deadline_s is None else _number(max(1.0, deadline_s)))
    args.append("" if exclude_pid is None else str(int(exclude_pid)))
    args.append(exclude_boot_id or "")
    args += [files_arg(TWICE, via_cat=False), files_arg(ONCE, via_cat=False), files_arg(TWICE, via_cat=True)]
    args.append(" ".join(f"{key}={path}" for key, path in FILE_FACTS.items()))
    args += ["|".join(STATUS_KEYS), str(max(0, int(locked_min_kib)))]
    args += [oci_root, str(MAX_MEMCGS), str(MAX_BUNDLE_BYTES)]
    return "sh -c " + shlex.quote(probe_script()) + " pfdiag " + " ".join(shlex.quote(a) for a in args)


def probe_command(
    interval_s: float = 5.0,
    top_n: int = 20,
    perf: bool = True,
    deadline_s: float | None = None,
    exclude_pid: int | None = None,
    exclude_boot_id: str | None = None,
    locked_min_kib: int = 0,
    oci_root: str = "/",
) -> str:
    """One sh command: facts, two samples ``interval_s`` apart, top ``top_n`` processes.

    With ``deadline_s`` the script stops itself and its children that many seconds after it
    starts (normally set above the interval; the output then ends with a watchdog marker).
    ``exclude_pid`` leaves one process (not its children) out of the ranking: the controller, when
    it examines its own host, must not name itself as a culprit; with ``exclude_boot_id`` (the
    controller's /proc/sys/kernel/random/boot_id) only on the machine with that boot id, so the
    controller is left out of its own host's ranking over SSH too (a bastion in its inventory), and
    a process of another host that happens to have the same pid is not. ``locked_min_kib`` > 0 also
    lists every process with VmLck or VmPin of at least that many KiB. ``oci_root`` is where the
    container runtimes keep their bundles (``/`` on a real host; the host variable ``pfdiag_oci_root``).
    """
    if not 0 < interval_s <= 3600:
        raise UsageError(f"interval must be in (0, 3600] seconds, got {interval_s}")
    if not 1 <= top_n <= 1000:
        raise UsageError(f"top_n must be in [1, 1000], got {top_n}")
    if deadline_s is not None and deadline_s <= 0:
        raise UsageError(f"deadline must be > 0 seconds, got {deadline_s}")
    if exclude_boot_id is not None and not re.fullmatch(r"[0-9a-f-]{1,64}", exclude_boot_id):
        raise UsageError(f"boot id must be a UUID, got {exclude_boot_id!r}")
    if not re.fullmatch(r"/[A-Za-z0-9_./-]*", oci_root):
        # the probe quotes it inside an awk-built command line: letters, digits, _ . / - only
        raise UsageError(
            f"pfdiag_oci_root must be an absolute path of letters, digits and _./- only, got {oci_root!r}"
        )
    return _command(
        "probe", interval_s, top_n, perf, deadline_s, exclude_pid, exclude_boot_id, locked_min_kib, oci_root
    )


def facts_command() -> str:
    """One sh command that prints the facts section only (no sampling: fast)."""
    return _command("facts", 1, 1, True, None)
