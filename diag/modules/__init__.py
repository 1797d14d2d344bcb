"""What a task can do: every module, registered by the name a playbook uses.

In: nothing. Out: ``MODULES``, name -> ``Module`` subclass; the engine looks modules up here and the
validator lists these names when a playbook names one that does not exist.
"""

from __future__ import annotations

from diag.modules.base import Module
from diag.modules.check import CheckModule
from diag.modules.command import CommandModule
from diag.modules.debug import DebugModule
from diag.modules.facts import FactsModule
from diag.modules.profile import ProfileModule
from diag.modules.sample import SampleModule
from diag.modules.set_fact import SetFactModule
from diag.modules.suggest import SuggestModule
from diag.modules.verdict import VerdictModule

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
