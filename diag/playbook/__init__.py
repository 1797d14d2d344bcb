"""Playbooks: YAML -> validated model -> engine (plays x hosts -> per-host results).

In: a playbook path or name. Out: ``Playbook`` (``load_playbook``), then ``HostResult`` per host
(``Engine``). Submodules: ``loader`` (YAML with line numbers), ``validate``, ``model``,
``expressions`` (sandboxed Jinja2), ``variables`` (``-e`` and precedence), ``resolve`` (finding a
playbook by name), ``engine``.
"""

# A triage host mostly waits out its sampling interval, so hosts run wide: wall time is about one
# interval per ceil(hosts / forks). 200 threads (plus paramiko's one per connection) are cheap; lower
# it with -f on a weak controller.
DEFAULT_FORKS = 200
