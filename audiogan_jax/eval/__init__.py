"""Evaluation: IS/FID, GAN-train, representations and the listening report."""
