"""The run folder, by one owner: created, appended as hosts finish (``hosts.jsonl``), read back.

In: a run's metadata and each host's result as it arrives. Out: ``run.json``, ``hosts.jsonl`` and the
``.pfdiag-run`` marker on disk (``store``, ``meta``), the proof of ownership that pruning needs
(``owner``), the run read back for ``report``, ``--replay`` and the audit, and a watch's
``events.jsonl`` lines as typed records (``events``).
"""
