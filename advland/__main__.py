"""``python -m advland`` is the ``advland`` command."""
import sys

from .cli import main

sys.exit(main())
