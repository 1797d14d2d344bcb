"""Helpers for probe tests: recorded captures under tests/data/proc/."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data" / "proc"


def capture(name: str) -> str:
    """The text of one recorded capture, exactly as stored."""
    return (DATA / name).read_text(encoding="utf-8")


def capture_lines(name: str) -> list[str]:
    return capture(name).splitlines()
