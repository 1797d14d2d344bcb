"""Which run folders are pfdiag's: the marker it writes in each, and the one place that deletes them.

In: a run folder's path. Out: the marker (``.pfdiag-run``, JSON: did pfdiag make the folder itself),
a ``UsageError`` for ``-o`` naming a folder that holds someone else's files, and ``remove_run_dir`` for
an audit's pruning, which deletes only the names pfdiag writes in a run folder, only in a marked folder
that holds nothing else, and the folder itself only if pfdiag made it. (``cd srv && pfdiag audit -o .``
once let a later pruning ``rmtree`` the whole of ``srv/``, its history included.)
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from diag.shared.errors import DiagError, UsageError
from diag.shared.files import json_text, read_text, write_text

# What pfdiag writes in a run folder, and the marker that says it made (or was given, empty) the folder:
# an audit's pruning deletes these names and nothing else, and only where the marker is.
MARKER = ".pfdiag-run"
# A watch's folder adds its events and the space it reserves for the final run.json (watch/sinks.py).
RUN_FILES = frozenset(
    {"run.json", "hosts.jsonl", "report.md", "diff.json", "events.jsonl", ".run.json.reserve"}
)
PLOTS_DIR = "plots"  # --plots: *.png only


def is_marked(run_dir: Path) -> bool:
    """``run_dir`` holds the marker as a regular file (a symlink named so proves nothing)."""
    return (run_dir / MARKER).is_file() and not (run_dir / MARKER).is_symlink()


def mark_run_dir(run_dir: Path, *, made: bool) -> None:
    """The marker: ``made`` says pfdiag created the folder itself (so pruning may remove it, emptied)."""
    write_text(
        run_dir / MARKER,
        json_text({"pfdiag": "run folder", "made_folder": made}) + "\n",
        what="run folder marker",
        symlinks=False,  # a marker is pfdiag's own file in pfdiag's folder, never a link's target
    )


def _foreign(run_dir: Path) -> list[str]:
    """The entries of ``run_dir`` that pfdiag does not write there (a symlink counts: pfdiag made none)."""
    found = []
    with os.scandir(run_dir) as entries:
        for entry in entries:
            if entry.name in RUN_FILES or entry.name == MARKER:
                if not entry.is_file(follow_symlinks=False):
                    found.append(entry.name)
            elif entry.name == PLOTS_DIR and entry.is_dir(follow_symlinks=False):
                found += [f"{PLOTS_DIR}/{name}" for name in _foreign_plots(Path(entry.path))]
            else:
                found.append(entry.name)
    return sorted(found)


def _foreign_plots(plots: Path) -> list[str]:
    with os.scandir(plots) as entries:
        return [e.name for e in entries if not (e.name.endswith(".png") and e.is_file(follow_symlinks=False))]


def check_claimable(run_dir: Path) -> None:
    """An existing folder without the marker: fine if empty, or if it holds only a run folder's files
    (one written before the marker); else ``UsageError``."""
    try:
        foreign = _foreign(run_dir)
    except OSError as exc:
        raise UsageError(f"cannot read the run folder {str(run_dir)!r}: {exc.strerror}", where="-o") from None
    if foreign:
        shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        raise UsageError(
            f"cannot use -o {str(run_dir)!r}: it is not a pfdiag run folder and holds other files ({shown})",
            hint="give a new or empty folder: pfdiag overwrites its run folder, and an audit's pruning "
            "deletes it",
        )


def remove_run_dir(run_dir: Path) -> str | None:
    """Delete a pruned audit's run folder if pfdiag can prove it wrote all of it; else say why it stays.

    Proof is the marker, and nothing in the folder but what pfdiag writes there; the folder itself
    goes only if pfdiag made it. Legacy folders (no marker) and folders holding the history or anything
    else are left whole. A folder already gone is fine (None).
    """
    if not run_dir.is_dir():
        return None
    if run_dir.is_symlink() or not is_marked(run_dir):
        return f"{str(run_dir)!r} stays: it has no {MARKER} marker, so pfdiag cannot tell it made it"
    try:
        foreign = _foreign(run_dir)
        if foreign:
            shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
            return f"{str(run_dir)!r} stays: it holds files pfdiag did not write ({shown})"
        made = json.loads(read_text(run_dir / MARKER, what="run folder marker")).get("made_folder") is True
        plots = run_dir / PLOTS_DIR
        if plots.is_dir():
            for png in plots.iterdir():
                png.unlink()
            plots.rmdir()
        for name in sorted(RUN_FILES):
            (run_dir / name).unlink(missing_ok=True)
        (run_dir / MARKER).unlink()
        if made:
            run_dir.rmdir()
    except (OSError, ValueError, AttributeError, DiagError) as exc:
        return f"{str(run_dir)!r} could not be removed: {exc}"
    return None
