"""Tests of `baton lint`: golden findings, properties, hostile input and the CLI."""
