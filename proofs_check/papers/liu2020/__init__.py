"""Claims of Liu, Salzmann, Lin, Tomioka, Süsstrunk (NeurIPS 2020), "On the Loss Landscape of Adversarial Training:
Identifying Challenges and How to Overcome Them", with the statements as written on the authors' slides:
``version_space`` and ``bad_directions`` (linear model), ``smoothness`` and ``convergence`` (nonlinear model); each
reading the slides leave open is a claim of its own beside them (``version_space_strict``,
``version_space_threshold``, ``convergence_eps_zero``, ``convergence_proof``, ``gradients_nonvanishing``,
``gradients_nonvanishing_at_kinks``).
"""
