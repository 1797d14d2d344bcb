"""What a playbook says: YAML with line numbers, the typed model, Jinja expressions and variables.

In: playbook text and ``-e`` values. Out: ``loader`` (YAML -> nodes that know their file:line), ``model``
(``Playbook``, ``Play``, ``Task``), ``expressions`` (the sandboxed Jinja2 that ``when:`` and templates use),
``variables`` (``-e`` parsing and Ansible's precedence). Task modules and the engine build on these; this
package imports neither, so the playbook package has no cycle.
"""
