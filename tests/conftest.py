"""Test-session settings: one BLAS/torch thread (the suite's models are tiny; on a 2-core CI machine
oversubscribed threads cost more than they give) and the non-interactive matplotlib backend."""
import os

os.environ.setdefault("MPLBACKEND", "Agg")

import torch  # noqa: E402

torch.set_num_threads(1)

from hypothesis import settings  # noqa: E402

# Property tests are derandomized so that CI runs are reproducible; failures still shrink and print examples.
settings.register_profile("advland", derandomize=True, database=None, deadline=None, print_blob=True)
settings.load_profile("advland")
