"""Playbooks: YAML -> validated model -> engine (plays x hosts -> per-host results).

In: a playbook path or name. Out: ``Playbook`` (``load_playbook``), then ``HostResult`` per host
(``Engine``). Submodules: ``loader`` (YAML with line numbers), ``validate``, ``model``,
``expressions`` (sandboxed Jinja2), ``variables`` (``-e`` and precedence), ``resolve`` (finding a
playbook by name), ``engine``.
"""
