"""The example app: a real scikit-learn model, observed, delivered to a real receiver."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "digits_agent.py"


def test_example_reports_every_prediction(receiver, tmp_path):
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, str(EXAMPLE), "--calls", "300", "--endpoint", receiver.endpoint],
                         capture_output=True, text=True, timeout=120, env=env, check=True)
    assert "delivered to" in out.stdout
    logreg = {"inferwatch.model.name": "digits-logreg", "inferwatch.model.version": "1.0.0"}
    assert receiver.count(**logreg) == 300
    assert receiver.count(**logreg, **{"error.type": "digits_agent.InvalidImage"}) == 0
    assert receiver.count(**logreg, **{"error.type": "__main__.InvalidImage"}) == 4  # i % 97 == 0
    assert receiver.count(**{"inferwatch.model.name": "digits-forest"}) == 30
    confidences = [p for _, a, p in receiver.points("inferwatch.inference.confidence")
                   if a["inferwatch.model.name"] == "digits-logreg"]
    assert sum(p.count for p in confidences) == 296
