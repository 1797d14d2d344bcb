"""What every stage may use and that knows nothing of page faults.

In: nothing of pfdiag's own. Out: the error tree (``errors``), the bounds on every input (``limits``),
the one serialiser of records (``records``), numbers, durations and timestamps (``units``), file
writes and bounded reads (``files``), bounded YAML loading (``yamlsafe``), secrets and their masking
(``secrets``), signal handling (``signals``), host-list compression (``hostlist``) and escaping of
text from hosts (``escape``).
"""
