"""What a task can do: every module, registered by the name a playbook uses.

In: nothing. Out: ``MODULES``, name -> ``Module`` subclass; the engine looks modules up here and the
validator lists these names when a playbook names one that does not exist.
"""

from __future__ import annotations

from diag.playbook.modules.base import Module
from diag.playbook.modules.check import CheckModule
from diag.playbook.modules.command import CommandModule
from diag.playbook.modules.debug import DebugModule
from diag.playbook.modules.facts import FactsModule
from diag.playbook.modules.profile import ProfileModule
from diag.playbook.modules.sample import SampleModule
from diag.playbook.modules.set_fact import SetFactModule
from diag.playbook.modules.suggest import SuggestModule
from diag.playbook.modules.verdict import VerdictModule

MODULES: dict[str, type[Module]] = {
    cls.name: cls
    for cls in (
        SampleModule,
        FactsModule,
        CheckModule,
        VerdictModule,
        SuggestModule,
        CommandModule,
        SetFactModule,
        DebugModule,
        ProfileModule,
    )
}

__all__ = ["MODULES", "Module"]
