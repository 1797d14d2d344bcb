"""Audit history: the SQLite store (``store``) and the diff between two audits (``diff``).

In: finished runs (``RunResult``) of ``pfdiag audit``. Out: rows in one SQLite file, and the
``new`` / ``persisting`` / ``resolved`` / ``unknown`` problems of an audit against the previous complete
audit of the same scope (playbook + inventory + limit).
"""
