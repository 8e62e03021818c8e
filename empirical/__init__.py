"""Empirical instruments in plain PyTorch: data, models, attacks, training and landscape measurements."""
