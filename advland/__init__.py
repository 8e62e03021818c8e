"""advland: is what papers claim about the adversarial loss landscape actually true?

Subpackages: ``advland.theory`` (linear-model mathematics; numpy, scipy, cvxpy, no torch),
``advland.empirical`` (torch: data, models, attacks, training, landscape instruments; knows no claims) and
``advland.claims`` (the claims of the papers, the engine that decides them, the report). Importing this
package imports none of them.
"""
__version__ = "0.2.0"
