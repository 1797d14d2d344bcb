"""The audit service (``pfdiag audit``): a run, recorded in the history, diffed, notified, exported.

In: an ``AuditRequest`` (a run's request plus history, retention and notification options). Out: an
``AuditResult`` (the run, the audit's diff with the last one, what was told), the Prometheus textfile,
and (``timers``) the systemd units or cron line that schedule audits.
"""
