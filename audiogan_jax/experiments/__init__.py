"""Experiments that produce the tables in README.md."""
