"""pfdiag: agentless, Ansible-style page-fault triage for Linux hosts and fleets."""

__version__ = "0.1.0"
