"""Claims of Yamada, Kanai, Iwata, Takahashi, Yamanaka, Takahashi, Kumagai (2021), "Adversarial Training Makes
Weight Loss Landscape Sharper in Logistic Regression" (arXiv 2102.02950): ``l2_sharpening`` (the abstract's
statement) and two readings of the theorem, ``fixed_w_eigenvalues`` and ``orthogonal_curvature``; their units are
in ``_common``.
"""
