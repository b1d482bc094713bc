"""The request budget of one remote account, shared by every worker through the cache (Redis
in production: its INCR/DECR are atomic across processes; per process on the embedded default,
which runs one worker). The remote's rate-limit headers fill it; each request takes one."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache

logger = logging.getLogger(__name__)
T = TypeVar("T")


def _advice(default: T) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """The budget is advice: when the cache is unreachable (Redis restarting) requests go on
    as if it were unknown, and the remote's own 429s still hold them back. A cache error must
    never fail a sync, least of all after the remote has applied a write."""

    def decorate(method: Callable[..., T]) -> Callable[..., T]:
        def guarded(*args: object, **kwargs: object) -> T:
            try:
                return method(*args, **kwargs)
            except Exception:  # the cache backend's own errors (redis, memcached) vary
                logger.warning("Request budget unavailable; going on without it.",
                               exc_info=True)
                return default

        return guarded

    return decorate


class CacheBudget:
    def __init__(self, *, account: str) -> None:
        # The account's identity (address and credential) never appears in clear in the cache.
        digest = hashlib.sha256(account.encode()).hexdigest()[:32]
        self.remaining_key = f"timesync:budget:{digest}:remaining"
        self.reset_key = f"timesync:budget:{digest}:reset"

    @_advice(0.0)
    def take(self) -> float:
        reset_at = cache.get(self.reset_key)
        now = time.time()
        if reset_at is None or now >= reset_at:
            return 0.0  # unknown, or a new window: the next answer tells us what is left
        try:
            left = cache.decr(self.remaining_key)
        except ValueError:
            return 0.0
        return 0.0 if left >= 0 else reset_at - now

    @_advice(None)
    def observe(self, *, remaining: int, reset_at: float) -> None:
        known_reset = cache.get(self.reset_key)
        known = cache.get(self.remaining_key)
        # Answers arrive out of order across workers: within one window, what is left only
        # goes down.
        if known_reset is not None and abs(known_reset - reset_at) < 1 and known is not None \
                and known <= remaining:
            return
        ttl = max(1, int(reset_at - time.time()) + 60)
        cache.set_many({self.remaining_key: remaining, self.reset_key: reset_at}, timeout=ttl)


def budget_for(*, kind: str, base_url: str, credential: str) -> CacheBudget:
    return CacheBudget(account=f"{kind}|{base_url.rstrip('/')}|{credential}")
