"""Shared pytest plugins: the Temporal dev-server fixtures (tests/conftest_temporal.py)."""

pytest_plugins = ["conftest_temporal"]
