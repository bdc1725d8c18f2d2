"""Fixtures for the command line's tests (the operator's fleet: tests/cli/operator.py)."""

from tests.cli.operator import database, fleet_server

__all__ = ["database", "fleet_server"]
