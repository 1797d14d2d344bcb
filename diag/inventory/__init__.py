"""Ansible-format inventories -> ``Inventory`` of ``Host``/``Group``; ``--limit``; ansible-inventory views.

In: ``-i`` values (files, folders, comma lists, names under ``inventories/``). Out: an ``Inventory``
equal to what ansible-core reads, or one ``InventoryError`` saying where and what is wrong.
"""

from diag.inventory.model import Group, Host, Inventory, Selection, implicit_localhost
from diag.inventory.sources import load_inventory

__all__ = ["Group", "Host", "Inventory", "Selection", "implicit_localhost", "load_inventory"]
