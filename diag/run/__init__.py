"""The run service (``pfdiag run``): inventory -> transport -> playbook -> fleet -> report.

In: a ``RunRequest`` (playbook, inventory, limits, extra vars, connection options). Out: a ``RunResult``
(each host's result, the run folder and the reports written). ``distributed`` runs the same plan
sharded on Dask.
"""
