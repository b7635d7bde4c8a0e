"""Throttling of failed authentication, per client address and per API key prefix, checked before the lookup.

Counted: a credential that was presented and did not authenticate — a wrong, malformed or revoked API key, a
wrong `X-Platform-Token`, a wrong key typed into the dashboard sign-in. A missing credential guesses nothing and
costs no query, so it is not counted; a success never is.

Checked before the database lookup: once a limit is spent the caller gets a 429 with `Retry-After` and the
flood costs no query. Two budgets, both moving windows (`limits`):
- per client address, for a spray of keys from one place;
- per key prefix, from any address, for a brute force on one key from many places.
A client that shares its address with an attacker (one NAT, one egress proxy), or whose prefix someone else
hammers, would be locked out with them; so an (address, prefix) pair that authenticated while failures were
being counted against it is remembered for an hour, and while remembered it answers to its own failures only
(the per-prefix budget, counted for that pair). Nobody can make a pair known-good without holding the key.

Storage: process memory without REDIS_URL; with it, Redis, so every API replica shares the counts. When Redis
is unreachable or slow the throttle fails open — authentication goes on unthrottled and a warning is logged (at
most once a minute): it is a load shield, and losing it for an outage beats refusing every caller.
"""

import asyncio
import logging
import math
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Annotated, Any

from fastapi import Depends, Request
from limits import RateLimitItem, RateLimitItemPerHour, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import ConnectionPool

from services.api.problems import TooManyRequests
from shared.settings import Settings

log = logging.getLogger(__name__)

# A throttle check must never be what makes authentication slow: past this, fail open.
STORAGE_TIMEOUT_S = 0.5
WARN_EVERY_S = 60.0
KNOWN_GOOD = RateLimitItemPerHour(1)
# One IPv6 subscriber holds a whole /64; counting single addresses would give each attacker 2^64 budgets.
IPV6_GROUP = 64

Network = IPv4Network | IPv6Network


@dataclass(frozen=True)
class Attempt:
    """One authentication in progress: what to count once its outcome is known."""

    address: str
    prefix: str | None
    watched: bool  # failures are being counted against its address or prefix, so a success is worth remembering
    # Seconds until the prefix's budget comes back, when it is spent: the key is still looked up (its owner is never
    # locked out by someone else's guesses), but a wrong secret then answers 429 instead of 401.
    prefix_wait: float | None = None


class AuthThrottle:
    """Failed-authentication budgets of one API process (shared through Redis when it is configured)."""

    def __init__(
        self,
        storage: Storage,
        *,
        per_address: Sequence[RateLimitItem],
        per_prefix: Sequence[RateLimitItem],
        trusted_proxies: Sequence[Network] = (),
        pool: ConnectionPool | None = None,
    ):
        self._limiter = MovingWindowRateLimiter(storage)
        self._per_address = tuple(per_address)
        self._per_prefix = tuple(per_prefix)
        self._trusted = tuple(trusted_proxies)
        self._pool = pool
        self._warned_at = -math.inf

    @classmethod
    def from_settings(cls, settings: Settings) -> "AuthThrottle":
        pool = None
        if settings.redis_url is None:
            storage: Storage = MemoryStorage()
        else:
            pool = ConnectionPool.from_url(
                settings.redis_url, socket_timeout=STORAGE_TIMEOUT_S, socket_connect_timeout=STORAGE_TIMEOUT_S
            )
            storage = RedisStorage(
                "async+" + settings.redis_url,
                implementation="redispy",
                key_prefix=settings.auth_throttle_key_prefix,
                connection_pool=pool,  # type: ignore[arg-type]  # passed through to redis-py, typed as a scalar
            )
        return cls(
            storage,
            per_address=parse_many(settings.auth_fail_limit_per_address),
            per_prefix=parse_many(settings.auth_fail_limit_per_prefix),
            trusted_proxies=[ip_network(cidr, strict=False) for cidr in settings.trusted_proxies],
            pool=pool,
        )

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()

    def address_of(self, request: Request) -> str:
        """The client's address: the connecting peer, or what trusted proxies say in X-Forwarded-For."""
        host = request.client.host if request.client else ""
        if self._trusted and _within(host, self._trusted):
            hops = [hop.strip() for value in request.headers.getlist("x-forwarded-for") for hop in value.split(",")]
            # Read from the right: each trusted proxy appended the peer it saw; the first untrusted one is the client.
            for hop in reversed([hop for hop in hops if hop]):
                host = hop
                if not _within(hop, self._trusted):
                    break
        return _bucket(host)

    async def check(self, *, address: str, prefix: str | None = None) -> Attempt:
        """Raise TooManyRequests when the address or the prefix has spent its budget; else the attempt to report."""
        checks = [(item, ("address", address)) for item in self._per_address]
        if prefix is not None:
            checks += [(item, ("prefix", prefix)) for item in self._per_prefix]
        stats = await self._run([self._limiter.get_window_stats(item, *ids) for item, ids in checks])
        if stats is None:
            return Attempt(address, prefix, watched=False)
        now = time.time()
        watched = any(s.remaining < item.amount for s, (item, _) in zip(stats, checks, strict=True))
        spent = [(s.reset_time - now, ids[0]) for s, (_, ids) in zip(stats, checks, strict=True) if s.remaining <= 0]
        wait = max((w for w, kind in spent if kind == "address"), default=None)
        if wait is not None and prefix is not None:
            wait = await self._known_good_wait(address, prefix, wait, now)
        if wait is not None:
            raise TooManyRequests(
                "Too many failed authentication attempts from this address; try again later.",
                retry_after=max(1, math.ceil(wait)),
            )
        return Attempt(address, prefix, watched, max((w for w, kind in spent if kind == "prefix"), default=None))

    async def failed(self, attempt: Attempt) -> None:
        """Count a failed authentication against its address and prefix."""
        hits = [self._limiter.hit(item, "address", attempt.address) for item in self._per_address]
        if attempt.prefix is not None:
            hits += [self._limiter.hit(item, "prefix", attempt.prefix) for item in self._per_prefix]
            hits += [self._limiter.hit(item, "pair", attempt.address, attempt.prefix) for item in self._per_prefix]
        await self._run(hits)

    async def succeeded(self, attempt: Attempt) -> None:
        """Remember a key that works from this address, if failures around it are being counted (else: free)."""
        if attempt.watched and attempt.prefix is not None:
            await self._run([self._limiter.hit(KNOWN_GOOD, "known-good", attempt.address, attempt.prefix)])

    async def _known_good_wait(self, address: str, prefix: str, wait: float, now: float) -> float | None:
        """A known-good pair answers to its own failures only: how long it must wait, given those."""
        stats = await self._run(
            [self._limiter.get_window_stats(KNOWN_GOOD, "known-good", address, prefix)]
            + [self._limiter.get_window_stats(item, "pair", address, prefix) for item in self._per_prefix]
        )
        if stats is None:
            return None
        known, *pair = stats
        if known.remaining > 0:
            return wait
        return max((s.reset_time - now for s in pair if s.remaining <= 0), default=None)

    async def _run(self, calls: list[Coroutine[Any, Any, Any]]) -> list[Any] | None:
        """The storage calls' results, or None (fail open) when the storage is down or slow."""
        try:
            async with asyncio.timeout(STORAGE_TIMEOUT_S):
                results = await asyncio.gather(*calls, return_exceptions=True)
        except TimeoutError as exc:
            self._warn(exc)
            return None
        error = next((r for r in results if isinstance(r, Exception)), None)
        if error is not None:
            self._warn(error)
            return None
        return results

    def _warn(self, error: BaseException) -> None:
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY_S:
            self._warned_at = now
            log.warning("auth throttle storage unavailable, failing open (authentication is not throttled): %r", error)


def _within(host: str, networks: Sequence[Network]) -> bool:
    try:
        address = ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in networks)


def _bucket(host: str) -> str:
    """What one client's budget is keyed by: its IPv4 address, or its IPv6 /64."""
    try:
        address = ip_address(host)
    except ValueError:
        return host or "unknown"
    if isinstance(address, IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ip_network(f"{address}/{IPV6_GROUP}", strict=False))
    return str(address)


def get_throttle(request: Request) -> AuthThrottle:
    return request.app.state.auth_throttle


ThrottleDep = Annotated[AuthThrottle, Depends(get_throttle)]
