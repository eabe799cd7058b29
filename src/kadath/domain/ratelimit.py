"""Token buckets: how often someone may do something. Time is passed in.

(We use this rather than the ``limits`` package: its asyncio memory store starts tasks of its
own that no lifespan owns, which our async discipline forbids.)"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class TokenBucket:
    """``capacity`` actions at once, refilled at ``rate`` per second."""

    capacity: float
    rate: float
    tokens: float = -1.0
    updated: float = 0.0

    def allow(self, now: float, cost: float = 1.0) -> bool:
        if self.tokens < 0:
            self.tokens, self.updated = self.capacity, now
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= cost:
            self.tokens -= cost
            return True
        return False

    def retry_after(self, cost: float = 1.0) -> float:
        """Seconds until ``cost`` tokens are there again."""
        return max(0.0, (cost - self.tokens) / self.rate) if self.rate > 0 else float("inf")


class KeyedLimiter:
    """One bucket per key (an IP, an account), forgetting idle keys so memory stays bounded."""

    def __init__(self, capacity: float, rate: float, max_keys: int = 100_000) -> None:
        self.capacity, self.rate, self.max_keys = capacity, rate, max_keys
        self._buckets: dict[str, TokenBucket] = {}

    def allow(self, key: str, now: float) -> bool:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._forget_full(now)
            bucket = self._buckets[key] = TokenBucket(self.capacity, self.rate)
        return bucket.allow(now)

    def _forget_full(self, now: float) -> None:
        idle = self.capacity / self.rate if self.rate > 0 else 0.0
        for key in [k for k, b in self._buckets.items() if now - b.updated >= idle]:
            del self._buckets[key]
        if len(self._buckets) >= self.max_keys:
            self._buckets.clear()


def parse_rate(text: str) -> tuple[float, float]:
    """'10/minute' → (capacity 10, rate 10/60 per second). Raises ValueError."""
    count, _, unit = text.partition("/")
    seconds = {"second": 1, "minute": 60, "hour": 3600}.get(unit.strip().rstrip("s"))
    if seconds is None or not count.strip().isdigit() or int(count) <= 0:
        raise ValueError(f"a rate looks like '10/minute', not {text!r}")
    return float(count), int(count) / seconds
