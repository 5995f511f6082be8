"""Memory sampling: process RSS, lifetime peak RSS, and CUDA memory when torch is already loaded."""

from __future__ import annotations

import sys
from collections.abc import Callable

import psutil

__all__ = ["GpuProbe", "MemorySampler", "torch_gpu_probe"]

GpuProbe = Callable[[], dict[str, int]]


def torch_gpu_probe() -> dict[str, int]:
    """Bytes allocated per CUDA device, only if `torch` is already imported (never imports it)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return {}
    try:
        if not torch.cuda.is_available():
            return {}
        return {f"cuda:{i}": int(torch.cuda.memory_allocated(i)) for i in range(torch.cuda.device_count())}
    except Exception:
        return {}


class MemorySampler:
    """Reads RSS and peak RSS of this process; never raises."""

    def __init__(self, gpu_probe: GpuProbe | None = torch_gpu_probe) -> None:
        self._process = psutil.Process()
        self._gpu_probe = gpu_probe
        self.peak_rss = 0

    def rss(self) -> int:
        """Current resident set size in bytes (0 if unreadable)."""
        try:
            rss = int(self._process.memory_info().rss)
        except Exception:
            return 0
        self.peak_rss = max(self.peak_rss, rss, _rusage_peak())
        return rss

    def gpu(self) -> dict[str, int]:
        """Bytes in use per GPU, empty without a GPU probe or a GPU."""
        if self._gpu_probe is None:
            return {}
        try:
            return dict(self._gpu_probe())
        except Exception:
            return {}


def _rusage_peak() -> int:
    try:
        import resource
    except ImportError:  # Windows
        return 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # bytes on macOS, KiB on Linux
