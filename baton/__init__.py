"""Baton: declarative multi-agent workflow specs."""
