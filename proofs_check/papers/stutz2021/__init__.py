"""Claims of Stutz, Hein, Schiele (ICCV 2021), "Relating Adversarially Robust Generalization to Flat Minima"
(arXiv 2104.04448): the scale invariance of the relative flatness measures, and flatness against robust
overfitting along training and across training methods (empirical)."""
