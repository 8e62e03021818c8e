"""Empirical units of the claims: train a configuration with the engine (``advland.empirical``) and measure it at
snapshot epochs. ``runs`` builds the units (``training_unit``) and sets where they run (``context``);
``measures`` names the measures and their defaults; ``measurements`` computes them; ``training`` drives a unit in
its work folder."""
