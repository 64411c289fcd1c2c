"""audiogan_jax."""
