"""Numbers for people: one way to write a latency, a share and a rate everywhere."""

from __future__ import annotations

__all__ = ["format_count", "format_ms", "format_percent"]


def format_ms(ms: float) -> str:
    """``0.4213`` -> ``"0.421ms"``, ``312.4`` -> ``"312ms"``, ``2500`` -> ``"2.50s"``."""
    if ms >= 10_000:
        return f"{ms / 1000:,.1f}s"
    if ms >= 1000:
        return f"{ms / 1000:.2f}s"
    if ms >= 100:
        return f"{ms:.0f}ms"
    if ms >= 10:
        return f"{ms:.1f}ms"
    return f"{ms:.3g}ms"


def format_percent(ratio: float) -> str:
    """A share with enough digits to tell 99.9 % from 99.95 %: ``0.99951`` -> ``"99.95%"``."""
    pct = ratio * 100.0
    if pct in (0.0, 100.0):
        return f"{pct:.0f}%"
    if 99.0 <= pct < 100.0 or 0.0 < pct < 1.0:
        text = f"{pct:.3f}".rstrip("0").rstrip(".")
        # Never round a failing 99.9996 % up to "100%", or 0.0004 % down to "0%".
        if text in ("100", "0"):
            text = f"{pct:.4g}"
        return text + "%"
    return f"{pct:.1f}%".replace(".0%", "%")


def format_count(n: float) -> str:
    """``1234567`` -> ``"1,234,567"``; rates keep one decimal below 100."""
    if float(n).is_integer():
        return f"{int(n):,}"
    return f"{n:,.1f}" if n < 100 else f"{n:,.0f}"
