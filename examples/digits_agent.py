"""Example: a real scikit-learn digits classifier observed by the inferwatch agent.

    python examples/digits_agent.py --endpoint http://127.0.0.1:4318 --calls 2000

Trains a LogisticRegression on scikit-learn's bundled digits data (no download), then serves
predictions one request at a time through `@inferwatch.observe`, with the top class probability
as confidence, a few rejected inputs as errors, and a `with observe(...)` block for a second model.
If no collector answers at the endpoint, windows go to the spool and are replayed the next time
the collector is up.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

import inferwatch


class InvalidImage(ValueError):
    """The input is not an 8x8 digit image."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", default=os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT",
                                                              "http://127.0.0.1:4318"))
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--interval", type=float, default=5.0, help="export window in seconds")
    parser.add_argument("--target", default="edge", choices=["edge", "cloud"])
    args = parser.parse_args()

    inferwatch.configure(service="digits-example", target=args.target, endpoint=args.endpoint,
                         hardware=os.environ.get("INFERWATCH_HARDWARE", "laptop-cpu"),
                         interval_s=args.interval)

    digits = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(digits.data / 16.0, digits.target, random_state=0)
    small = LogisticRegression(max_iter=500).fit(x_train, y_train)
    large = RandomForestClassifier(n_estimators=60, random_state=0).fit(x_train, y_train)

    @inferwatch.observe(model="digits-logreg", version="1.0.0", confidence=lambda p: float(p.max()))
    def predict(image: np.ndarray) -> np.ndarray:
        if image.shape != (64,):
            raise InvalidImage(f"expected 64 pixels, got {image.shape}")
        return small.predict_proba(image.reshape(1, -1))[0]

    rng = np.random.default_rng(0)
    correct = 0
    started = time.perf_counter()
    for i in range(args.calls):
        k = int(rng.integers(len(x_test)))
        image = x_test[k] if i % 97 else x_test[k][:32]  # about 1% malformed requests
        try:
            probabilities = predict(image)
            correct += int(probabilities.argmax() == y_test[k])
        except InvalidImage:
            pass
        if i % 10 == 0:  # a second, larger model on every tenth request, measured as a block
            with inferwatch.observe(model="digits-forest", version="1.0.0") as call:
                p = large.predict_proba(x_test[k].reshape(1, -1))[0]
                call.confidence = float(p.max())
    elapsed = time.perf_counter() - started

    delivered = inferwatch.flush(timeout_s=10)
    stats = inferwatch.stats()
    print(f"{args.calls} predictions in {elapsed:.2f} s, accuracy {correct / args.calls:.3f}")
    print(f"agent: {stats['calls']} calls recorded, {stats['errors']} errors, "
          f"{stats['dropped']} dropped, overhead {stats.get('overhead_ns', 0):.0f} ns/call")
    if delivered:
        print(f"delivered to {args.endpoint}: {stats['windows_sent']} windows, {stats['bytes_sent']} bytes")
    else:
        print(f"no collector answered at {args.endpoint}: {stats['spool_files']} windows wait in the spool "
              f"({stats['spool_bytes']} bytes) and are replayed when it is up — start one with "
              "`inferwatch collector --db ./inferwatch.duckdb`")
    inferwatch.shutdown()


if __name__ == "__main__":
    main()
