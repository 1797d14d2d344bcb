"""hosts.jsonl's lines are fsynced in groups: one fsync for the lines written together, all by close."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from diag.shared import group_sync
from diag.shared.group_sync import GroupSync


def counting_fsync(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every fsync still happens; the list records the fd of each."""
    calls: list[int] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(group_sync.os, "fsync", fsync)
    return calls


def test_lines_written_together_share_one_fsync_and_close_syncs_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = counting_fsync(monkeypatch)
    with (tmp_path / "hosts.jsonl").open("w") as handle:
        sync = GroupSync(handle.fileno(), within_s=1.0)
        for i in range(50):
            handle.write(f"{i}\n")
            handle.flush()
            sync.written()
        deadline = time.monotonic() + 10
        while not calls and time.monotonic() < deadline:
            time.sleep(0.01)
        assert calls == [handle.fileno()]  # the 50 lines, one fsync
        handle.write("last\n")
        handle.flush()
        sync.written()
        sync.close()  # does not wait for the group's time: fsyncs the last line itself
        assert len(calls) == 2


def test_a_failed_fsync_is_raised_by_the_writers_next_call_and_by_close() -> None:
    read_end, write_end = os.pipe()  # fsync of a pipe fails (EINVAL)
    try:
        sync = GroupSync(write_end, within_s=0.01)
        sync.written()
        deadline = time.monotonic() + 10
        with pytest.raises(OSError):  # the background fsync failed: the next call says so
            while time.monotonic() < deadline:
                sync.check()
                time.sleep(0.01)
        with pytest.raises(OSError):
            sync.written()
        with pytest.raises(OSError):
            sync.close()
    finally:
        os.close(read_end)
        os.close(write_end)
