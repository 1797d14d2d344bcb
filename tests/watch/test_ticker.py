"""The watch's ``ticker.awk`` on this machine's live /proc, under every awk installed: a process whose
name holds backslashes and a newline comes back exact (mawk's ``"\\\\\\\\"`` replacement kept one)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from diag.watch.ticker import parse_tick, ticker_command
from tests.fixtures.workloads import inline_python

NAME = "b\\n\\\\q\nx"  # b, backslash, n, two backslashes, q, a newline, x: 9 bytes, all kept
NAMED = f"""
import ctypes, time
ctypes.CDLL(None).prctl(15, ctypes.c_char_p({NAME.encode()!r}), 0, 0, 0)
print("ready", flush=True)
time.sleep(120)
"""


def _awks() -> list[str]:
    found = [a for a in ("mawk", "gawk", "nawk", "original-awk") if shutil.which(a)]
    return found + (["busybox"] if shutil.which("busybox") else [])


@pytest.mark.parametrize("awk", _awks())
def test_a_comm_with_backslashes_and_a_newline_comes_back_exact_under_every_awk(
    awk: str, tmp_path: Path
) -> None:
    (tmp_path / "awk").symlink_to(shutil.which(awk) or awk)  # busybox runs the applet it is named as
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    with inline_python(NAMED) as pid:
        ticker = subprocess.run(
            ["/bin/sh", "-c", ticker_command()],
            input="1\n",
            capture_output=True,
            text=True,
            env=env,
            timeout=30,
        )
    tick = parse_tick(ticker.stdout)
    assert [p.comm for p in tick.changed if p.pid == pid] == [NAME], ticker.stderr
