"""``pfdiag watch``: follow fault rates on every host, tick by tick, over one login per host.

Pipeline: ``ticker`` (the host-side awk and its parser: snapshots -> rates) -> ``stream`` (one
long-lived channel per host, local or SSH) -> ``rules`` (thresholds, ``--for``, cooldown, resolved)
-> ``runner`` (a thread per host, events to the sinks: terminal, JSONL, the run folder, notify).
"""
