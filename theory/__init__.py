"""Linear-model theory of the adversarial loss landscape, in numpy/scipy/cvxpy (no torch)."""
