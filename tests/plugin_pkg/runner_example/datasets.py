"""The checkerboard data set: points in the unit square labelled by the colour of their tile."""

from __future__ import annotations

from typing import Any

import numpy as np

from runner import Dataset, DatasetSource, Param


class Checkerboard(DatasetSource):
    """Uniform points in the unit square, class = colour of a tiles x tiles checkerboard square."""

    name = "checkerboard"
    params = (
        Param("n_samples", int, 200, "number of points drawn", low=4),
        Param("tiles", int, 2, "squares along each side (2: an xor of the quadrants)", low=2),
    )

    def load(
        self, rng: np.random.Generator, n_samples: int = 200, tiles: int = 2, **params: Any
    ) -> Dataset:
        X = rng.uniform(0.0, 1.0, (n_samples, 2))
        cells = np.minimum(np.floor(X * tiles), tiles - 1).astype(np.int64)
        y = cells.sum(axis=1) % 2
        return Dataset(
            X=X, y=y, task="classification", n_classes=2, feature_names=("x1", "x2"), name=self.name
        )
