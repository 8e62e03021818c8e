"""The built-in claims, one file per claim in a folder per paper (``registry.BUILTIN_MODULES`` lists them)."""
