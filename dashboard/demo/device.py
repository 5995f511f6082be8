"""One emulated edge device: a real model served in a loop, observed by its own agent.

Run by the demo as `python -m inferwatch.dashboard.demo.device --device-id edge-01 ...`.
Hardware is emulated by a CPU slowdown factor: after each real prediction the device sleeps
(factor - 1) x the measured compute time, so a `raspberry-pi-4` (factor 4) reports 4x the latency.
"""

from __future__ import annotations

import argparse
import random
import signal
import sys
import time
from pathlib import Path

import inferwatch

from .models import load_models

__all__ = ["HARDWARE_SLOWDOWN", "InvalidFrame", "main"]

# CPU slowdown per emulated hardware kind relative to this machine (documented in the README).
HARDWARE_SLOWDOWN = {
    "raspberry-pi-4": 4.0,
    "raspberry-pi-5": 2.0,
    "jetson-orin-nano": 1.3,
    "intel-nuc-i5": 1.0,
}


class InvalidFrame(ValueError):
    """A camera frame that could not be decoded."""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device-id", required=True)
    parser.add_argument("--hardware", required=True, choices=sorted(HARDWARE_SLOWDOWN))
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--spool-dir", required=True)
    parser.add_argument("--models", required=True, type=Path)
    parser.add_argument("--rate", type=float, default=8.0, help="requests per second")
    parser.add_argument("--rollout-at", type=float, default=0.0,
                        help="epoch seconds when v2 starts (0: never)")
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--error-rate", type=float, default=0.005)
    args = parser.parse_args(argv)

    inferwatch.configure(service="digits-edge", target="edge", endpoint=args.endpoint,
                         device_id=args.device_id, hardware=args.hardware, interval_s=args.interval,
                         spool_dir=args.spool_dir, timeout_s=2.0)
    data = load_models(args.models)
    models, images = data["models"], data["x"]
    slowdown = HARDWARE_SLOWDOWN[args.hardware]
    rng = random.Random(args.device_id)
    running = True

    def stop(*_):
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def make_predict(model):
        @inferwatch.observe(model=model.name, version=model.version, confidence=lambda p: float(p.max()))
        def predict(image):
            started = time.perf_counter()
            if rng.random() < args.error_rate:
                raise InvalidFrame("corrupted frame")
            probabilities = model.predict_proba(image)
            time.sleep((time.perf_counter() - started) * (slowdown - 1))  # emulated slower CPU
            return probabilities
        return predict

    v1, v2 = make_predict(models[("edge", "1.0.0")]), make_predict(models[("edge", "2.0.0")])
    print(f"{args.device_id} ready ({args.hardware}, x{slowdown})", flush=True)
    while running:
        predict = v2 if args.rollout_at and time.time() >= args.rollout_at else v1
        try:
            predict(images[rng.randrange(len(images))])
        except InvalidFrame:
            pass
        time.sleep(rng.expovariate(args.rate))
    inferwatch.shutdown()
    sys.exit(0)


if __name__ == "__main__":
    main()
