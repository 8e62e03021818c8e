"""Claims of Wu, Xia, Wang (NeurIPS 2020), "Adversarial Weight Perturbation Helps Robust Generalization"
(arXiv 2004.05884; v1 "Revisiting Loss Landscape for Adversarial Robustness"): flatness of the adversarial weight
loss landscape against the robust generalization gap, and AWP against AT (empirical)."""
