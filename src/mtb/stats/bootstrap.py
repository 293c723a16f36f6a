"""Bootstrap helpers: seeded random streams and percentile intervals."""

from __future__ import annotations

import zlib
from typing import Any


def seeded_rng(seed: int, *names: str) -> Any:
    """A numpy Generator for `seed` and `names`: one stream per model (or pair), so adding
    a model changes no one else's interval."""
    import numpy as np

    return np.random.default_rng([seed, *(zlib.crc32(n.encode()) for n in names)])


def percentile_interval(samples: Any, level: float = 0.95) -> tuple[float, float]:
    """The central `level` interval of `samples` (NaNs ignored)."""
    import numpy as np

    tail = 100 * (1 - level) / 2
    low, high = np.nanpercentile(samples, [tail, 100 - tail])
    return float(low), float(high)
