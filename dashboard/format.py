"""Numbers as people read them: counts, percentages, milliseconds, bytes, dollars, ages."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["ONLINE_WITHIN_S", "fmt_age", "fmt_bytes", "fmt_count", "fmt_ms", "fmt_pct", "fmt_usd", "missing"]

ONLINE_WITHIN_S = 300  # a device heard from this recently counts as online (5 default windows)


def missing(value: Any) -> bool:
    """None, NaN or not a number."""
    try:
        return value is None or math.isnan(float(value))
    except (TypeError, ValueError):
        return True


def fmt_count(value: Any) -> str:
    """12,345 or 1.2M."""
    if missing(value):
        return "–"
    n = float(value)
    return f"{n / 1e6:.2f}M" if abs(n) >= 1e6 else f"{n:,.0f}"


def fmt_pct(value: Any, digits: int = 2) -> str:
    """0.0123 -> 1.23 %."""
    return "–" if missing(value) else f"{float(value) * 100:.{digits}f} %"


def fmt_ms(value: Any) -> str:
    """Milliseconds with three significant digits."""
    return "–" if missing(value) else f"{float(value):.3g} ms"


def fmt_bytes(value: Any) -> str:
    """Bytes in B, KB, MB or GB (powers of 1000)."""
    if missing(value):
        return "–"
    n = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"  # pragma: no cover


def fmt_usd(value: Any) -> str:
    """Dollars with enough digits for fractions of a cent."""
    if missing(value):
        return "–"
    n = float(value)
    if abs(n) >= 1:
        return f"${n:,.2f}"
    return f"${n:.4f}" if abs(n) >= 0.0001 or n == 0 else "< $0.0001"


def fmt_age(seconds: Any) -> str:
    """12 s, 4 min, 3.5 h or 2.0 d."""
    if missing(seconds):
        return "–"
    s = max(0.0, float(seconds))
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    if s < 172800:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} d"
