"""The fault tests that need no process of their own use the integration stack (store + in-process worker)."""

from tests.integration.conftest import pg_database, stack

__all__ = ["pg_database", "stack"]
