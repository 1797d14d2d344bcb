"""``pfdiag audit``: a run of the audit playbook, recorded in the history and compared with the last one.

In: an ``AuditRequest`` (a ``RunRequest`` plus the history, notification, textfile and retention
settings). Out: an ``AuditResult``; the run folder gains ``diff.json`` and a report that opens with
"Since the last audit"; the history (``diag.history``) gains the audit in one transaction.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from diag.findings import RunResult
from diag.history import HISTORY_ENV, history_path
from diag.playbook.resolve import resolve_playbook
from diag.run.service import RunRequest, run_playbook
from diag.runs.store import check_out_dir, make_run_dir
from diag.shared.errors import DiagError, ReportError, UsageError
from diag.shared.files import write_text
from diag.shared.limits import check_notify_timeout
from diag.shared.records import to_data
from diag.shared.units import now_stamp

if TYPE_CHECKING:
    from diag.history.diff import Diff
    from diag.history.store import History
    from diag.notify import NotifyOutcome

__all__ = ["HISTORY_ENV", "AuditRequest", "AuditResult", "history_path", "run_audit"]


@dataclass(frozen=True, slots=True)
class AuditRequest:
    """``pfdiag audit``: a run plus where to record it, whom to tell, and what to keep.

    ``history`` None: ``$PFDIAG_HISTORY``, else ``reports/history.sqlite`` under the cwd.
    """

    run: RunRequest
    history: Path | None = None
    keep_days: float | None = 14.0
    keep_runs: int | None = None
    notify_command: str | None = None
    notify_url: str | None = None
    renotify_after_s: float = 4 * 3600.0
    notify_timeout_s: float = 30.0
    textfile: Path | None = None


@dataclass(slots=True)
class AuditResult:
    """What an audit did: the run, its history id, baseline, diff, notification, files, pruned audits."""

    run: RunResult
    run_id: int
    baseline: tuple[int, str] | None
    diff: Diff  # this audit against the previous complete one (``diff.json``)
    notify_status: str
    notify_error: str | None = None
    textfile: Path | None = None
    pruned: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    history: Path | None = None


def _check_out_dir(history: Path, out_dir: Path | None, cwd: Path) -> None:
    """Before the history is opened (or made): ``-o`` is a folder pfdiag may use, and the history is not
    inside it (a run folder is pruned with its audit; ``-o .`` with the default history made
    ``reports/history.sqlite`` part of the folder)."""
    if out_dir is None:
        return
    run_dir = check_out_dir(out_dir, cwd).resolve()
    if history.resolve().is_relative_to(run_dir):
        raise UsageError(
            f"the audit history {str(history)!r} would be inside the run folder -o {str(run_dir)!r}",
            hint="give -o a folder of its own (or no -o), or --history PATH outside it",
        )


def run_audit(request: AuditRequest) -> AuditResult:
    """Run the audit playbook, record it in the history (one transaction), diff, notify, export, prune."""
    from diag.history.diff import diff_problems
    from diag.history.store import History, HistoryError
    from diag.report.since import prepend_since, render_since

    check_notify_timeout(request.notify_timeout_s)  # before anything is recorded, not when it is used
    cwd = request.run.cwd or Path.cwd()
    playbook = resolve_playbook(request.run.playbook, cwd=cwd)
    scope = json.dumps(
        {"playbook": str(playbook), "inventory": list(request.run.inventories), "limit": request.run.limit}
    )
    path = history_path(request.history, cwd)
    _check_out_dir(path, request.run.out_dir, cwd)
    with History(path) as history:
        previous = history.previous_hosts(scope)
        run_dir = make_run_dir(request.run.out_dir, cwd, playbook.stem).resolve()
        extra = json.dumps({"audit_previous": to_data(previous)})
        run_request = replace(  # the hosts are compared with the audits of this same history
            request.run, out_dir=run_dir, extra_vars=(*request.run.extra_vars, extra), history=path
        )
        run_id = history.begin(
            scope, str(playbook), list(request.run.inventories), request.run.limit, str(run_dir)
        )
        try:
            run = run_playbook(run_request)
        except Exception:
            # nothing ran (bad inventory, vars): no audit to remember; if even that cannot be written
            # (a full disk), the row stays incomplete, as a killed audit's, and the run's error is said
            with contextlib.suppress(HistoryError):
                history.forget(run_id)
            raise
        try:
            recorded = history.record(
                run_id, run, scope, lambda before: diff_problems(before, run.hosts, now_stamp())
            )
        except HistoryError as exc:
            raise _with_run_folder(exc, run_dir) from None
        baseline = history.describe(recorded.baseline_id)
        result = AuditResult(run, run_id, baseline, recorded.diff, "off", history=path)
        audit_info = {
            "id": run_id,
            "scope": scope,
            "started": run.started,
            "finished": run.finished,
            "run_dir": run.run_dir,
            "baseline": recorded.baseline_id,
            **recorded.diff.counts(),
        }
        if run.interrupted:
            result.notify_status = (
                "skipped (audit incomplete)" if request.notify_command or request.notify_url else "off"
            )
        else:
            outcome = _tell_each_target(history, request, scope, recorded.diff, audit_info)
            result.notify_status, result.notify_error = outcome.status, outcome.error
            history.notified(run_id, outcome.status, outcome.error, outcome.told)
            if outcome.error:
                result.warnings.append(f"notification failed (the audit is recorded): {outcome.error}")
        told = (
            None
            if result.notify_status == "off"
            else result.notify_status + (f": {result.notify_error}" if result.notify_error else "")
        )
        try:  # the audit is recorded (and told): a full disk here is said, and the rest still runs
            write_text(
                run_dir / "diff.json",
                json.dumps({"audit": audit_info, **to_data(recorded.diff)}, indent=2) + "\n",
                what="report file",
            )
            prepend_since(run_dir / "report.md", render_since(recorded.diff, baseline, run_id, told))
        except ReportError as exc:
            result.warnings.append(f"{exc.render()} (the audit is recorded)")
        if request.textfile is not None:
            from diag.report.prometheus import write_textfile

            textfile = request.textfile if request.textfile.is_absolute() else cwd / request.textfile
            try:
                result.textfile = write_textfile(
                    textfile,
                    run,
                    recorded.diff.counts(),
                    duration_s=history.duration(run_id),
                    last_success=history.last_success(scope),
                )
            except ReportError as exc:
                result.warnings.append(exc.render())
        pruned = history.prune(scope, keep_days=request.keep_days, keep_runs=request.keep_runs)
        result.pruned = list(pruned.run_ids)
        result.warnings += [f"pruned audit's run folder {reason}" for reason in pruned.kept_folders]
    return result


def _tell_each_target(
    history: History, request: AuditRequest, scope: str, diff: Diff, audit_info: dict[str, Any]
) -> NotifyOutcome:
    """Each notifier hears what IT has not been told yet (``diag.history.told``); one outcome in all:
    ``failed`` if one failed, else ``sent`` if one was sent, else ``nothing`` (or ``off``)."""
    from diag.history.told import for_target, target_id
    from diag.notify import NotifyOutcome, notify

    targets: list[tuple[str, str | None, str | None]] = []
    if request.notify_command is not None:
        targets.append((target_id("cmd", request.notify_command), request.notify_command, None))
    if request.notify_url is not None:
        targets.append((target_id("url", request.notify_url), None, request.notify_url))
    outcomes = []
    for target, command, url in targets:
        heard = for_target(diff, history.told_firing(target, scope))
        outcome = notify(
            heard,
            audit_info,
            command=command,
            url=url,
            renotify_after_s=request.renotify_after_s,
            timeout_s=request.notify_timeout_s,
        )
        if outcome.status == "sent":
            firing = [p for p in [*heard.new, *heard.persisting] if p.key in set(outcome.told)]
            history.mark_told(target, scope, firing, heard.resolved, now_stamp())
        outcomes.append(outcome)
    statuses = {o.status for o in outcomes}
    status = next((s for s in ("failed", "sent", "nothing") if s in statuses), "off")
    errors = "; ".join(o.error for o in outcomes if o.error) or None
    keys = tuple(dict.fromkeys(k for o in outcomes for k in o.told)) if status == "sent" else ()
    return NotifyOutcome(status, errors, keys)


def _with_run_folder(exc: DiagError, run_dir: Path) -> DiagError:
    """The history could not record a finished run: say whether the run folder holds it (read back, not
    assumed: on a full disk the folder was empty while the hint said "the run folder is complete")."""
    from diag.runs.store import read_run

    try:
        _, missing = read_run(run_dir)
        saved = not missing and (run_dir / "report.md").stat().st_size > 0
    except (DiagError, OSError):
        saved = False
    where = (
        f"the run itself is saved in {str(run_dir)!r} (`pfdiag report {run_dir}` shows it)"
        if saved
        else f"the run folder {str(run_dir)!r} is incomplete too: the run is lost"
    )
    return type(exc)(exc.message, where=exc.where, hint=f"{where}; {exc.hint}" if exc.hint else where)
