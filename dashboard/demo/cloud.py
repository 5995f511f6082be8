"""The cloud path: a real HTTP inference server on loopback running the larger model.

Run by the demo as `python -m inferwatch.dashboard.demo.cloud --port P ...`. Each request is
observed by the server's agent (target=cloud) and includes an emulated WAN round trip (a
lognormal delay around 40 ms, slept inside the handler): this is emulation, not a real network.
After --rollout-at, --canary of the requests are served by version 2.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

import inferwatch

from .models import load_models

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--spool-dir", required=True)
    parser.add_argument("--models", required=True, type=Path)
    parser.add_argument("--rollout-at", type=float, default=0.0)
    parser.add_argument("--canary", type=float, default=0.5)
    parser.add_argument("--wan-ms", type=float, default=40.0, help="median emulated WAN round trip")
    parser.add_argument("--interval", type=float, default=10.0)
    args = parser.parse_args(argv)

    inferwatch.configure(service="digits-cloud", target="cloud", endpoint=args.endpoint,
                         device_id="cloud-1", hardware="cloud-cpu", interval_s=args.interval,
                         spool_dir=args.spool_dir, timeout_s=2.0)
    models = load_models(args.models)["models"]
    v1, v2 = models[("cloud", "1.0.0")], models[("cloud", "2.0.0")]
    lock = threading.Lock()  # scikit-learn estimators are used from one thread at a time
    rng = random.Random(1)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self._answer(200, {"status": "ok"})

        def do_POST(self):
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                image = np.asarray(body["pixels"], dtype=float)
                if image.shape != (64,):
                    raise ValueError("expected 64 pixels")
            except (ValueError, KeyError, TypeError) as exc:
                self._answer(400, {"error": str(exc)})
                return
            canary = args.rollout_at and time.time() >= args.rollout_at and rng.random() < args.canary
            model = v2 if canary else v1
            with inferwatch.observe(model=model.name, version=model.version) as call:
                time.sleep(rng.lognormvariate(np.log(args.wan_ms / 1000), 0.35))  # emulated WAN round trip
                with lock:
                    probabilities = model.predict_proba(image)
                call.confidence = float(probabilities.max())
            self._answer(200, {"digit": int(probabilities.argmax()), "confidence": call.confidence,
                               "version": model.version})

        def _answer(self, status, payload):
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"cloud ready on 127.0.0.1:{args.port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    server.server_close()
    inferwatch.shutdown()


if __name__ == "__main__":
    main()
