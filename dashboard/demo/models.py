"""Real scikit-learn models on the bundled digits data: small for the edge, larger for the cloud.

Version 2 of each is a regression on purpose: it smooths its input (a real extra step that costs
time) and is trained with much stronger regularisation, so its predictions are less confident.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["DemoModel", "load_models", "train_models"]


def _smooth(images: np.ndarray) -> np.ndarray:
    """A 3x3 box blur of 8x8 images, the extra preprocessing step of version 2."""
    grid = images.reshape(-1, 8, 8)
    padded = np.pad(grid, ((0, 0), (1, 1), (1, 1)), mode="edge")
    out = np.zeros_like(grid)
    for dy in range(3):
        for dx in range(3):
            out += padded[:, dy:dy + 8, dx:dx + 8]
    return (out / 9.0).reshape(-1, 64)


@dataclass
class DemoModel:
    """A fitted classifier with the preprocessing its version needs."""

    name: str
    version: str
    estimator: object
    smooth: bool = False
    repeats: int = 1  # version 2 runs its feature step several times (a heavier pipeline)

    def predict_proba(self, image: np.ndarray) -> np.ndarray:
        x = image.reshape(1, -1)
        if self.smooth:
            for _ in range(self.repeats):
                x = _smooth(x)
        return self.estimator.predict_proba(x)[0]


def train_models(directory: Path) -> Path:
    """Fit the four models once and pickle them into the demo directory."""
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    digits = load_digits()
    x, y = digits.data / 16.0, digits.target
    models = {
        ("edge", "1.0.0"): DemoModel("digits", "1.0.0", LogisticRegression(max_iter=500).fit(x, y)),
        ("edge", "2.0.0"): DemoModel("digits", "2.0.0",
                                     LogisticRegression(C=0.3, max_iter=500).fit(_smooth(x), y),
                                     smooth=True, repeats=1),
        ("cloud", "1.0.0"): DemoModel("digits", "1.0.0",
                                      RandomForestClassifier(n_estimators=60, random_state=0).fit(x, y)),
        ("cloud", "2.0.0"): DemoModel("digits", "2.0.0",
                                      RandomForestClassifier(n_estimators=100, max_depth=10,
                                                             random_state=0).fit(_smooth(x), y),
                                      smooth=True, repeats=1),
    }
    path = Path(directory) / "models.pkl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump({"models": models, "x": x, "y": y}, f)
    return path


def load_models(path: Path) -> dict:
    """The pickled models and the test images."""
    with open(path, "rb") as f:
        return pickle.load(f)
