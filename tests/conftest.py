"""Shared pytest plugins: the Temporal dev-server fixtures (tests/conftest_temporal.py)."""

pytest_plugins = ["conftest_temporal"]

# the golden spec sets hold python agent modules for rule B209 to find: data, not tests
collect_ignore_glob = ["golden/*"]
