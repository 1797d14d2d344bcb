"""Shared fixtures: real sshd fleets and real fault workloads live in tests/fixtures/."""

pytest_plugins = ["tests.fixtures.workloads", "tests.fixtures.background", "tests.fixtures.sshd"]
