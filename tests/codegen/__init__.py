"""Tests of `baton compile` (compiler/codegen): a package so its conftest has its own name."""
