"""``pfdiag report RUN_DIR``: a saved watch as its timeline (markdown) or its events (JSON); any other
run folder through ``diag.run.rerender``.

In: a ``RerenderRequest``. Out: a ``Rerendered`` (the text for stdout) and the file written with ``-o``.
The watch's files are read by ``diag.watch.saved``; a line or field it skips is told through ``warn``.
"""

from __future__ import annotations

import json

from diag.run.rerender import Rerendered, RerenderRequest, deliver, rerender_run
from diag.shared.errors import UsageError
from diag.watch.saved import is_watch_run, load_watch


def rerender(request: RerenderRequest) -> Rerendered:
    """Render ``request.run_dir`` again, a watch or a run, to stdout's text or to ``request.output``."""
    if not is_watch_run(request.run_dir):
        return rerender_run(request)
    from diag.report.watch_view import render_timeline

    if request.format == "csv":
        raise UsageError("a watch has no CSV form", hint="use --format md or json")
    saved = load_watch(request.run_dir)
    for problem in saved.problems:
        request.warn(problem)
    meta, events = saved.meta, saved.events
    if request.format == "json":
        text = json.dumps({"run": meta, "events": events}, indent=2, default=str) + "\n"
    else:
        text = render_timeline(meta, events)
    return Rerendered(deliver(request, text))
