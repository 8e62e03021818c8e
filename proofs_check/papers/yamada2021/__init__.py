"""Claims of Yamada, Kanai, Iwata, Takahashi, Yamanaka, Takahashi, Kumagai (2021), "Adversarial Training Makes
Weight Loss Landscape Sharper in Logistic Regression" (arXiv 2102.02950): ``l2_sharpening``.
"""
