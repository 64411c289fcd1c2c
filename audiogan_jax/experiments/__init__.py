"""Experiments that produce the tables in docs/GAAE_LEARNING.md."""
