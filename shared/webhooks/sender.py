"""One webhook delivery attempt over real HTTP, and how long to wait before the next one.

The attempt connects to the address the SSRF guard checked (`Target.url_for_connect`) and tells the
receiver who it wanted with the Host header and, for https, the TLS SNI (the certificate is verified against
that name). Redirects are never followed: a 3xx could point anywhere, inside included, so it is a failure
to retry. Only the first few kilobytes of the answer are read, within one overall deadline, so a receiver
that drips or floods cannot hold a worker.

Connections are pooled by the address connected to, not by SNI name: give each attempt its own
`httpx.AsyncClient` (as the delivery job does), or at least never share one between https hostnames.
"""

import asyncio
import codecs
import contextlib
import functools
import random
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal

import httpx

from shared.settings import Settings
from shared.webhooks.ssrf import Target, UnsafeUrl, resolve_safe

# After the first attempt fails: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (the Standard Webhooks schedule).
DEFAULT_SCHEDULE_S = [5, 300, 1800, 7200, 18000, 36000, 36000]
JITTER = 0.2
MAX_RETRY_AFTER_S = 24 * 3600
EXCERPT_CHARS = 1000
_EXCERPT_BYTES = 4 * EXCERPT_CHARS  # no encoding needs more than 4 bytes for a character
_ERROR_CHARS = 500

Outcome = Literal["delivered", "retry", "gone"]


@dataclass(frozen=True)
class Attempt:
    """What one attempt gave: the receiver's answer, or the network error, and what to do next."""

    status_code: int | None  # None when no HTTP answer came
    duration_ms: int
    response_excerpt: str | None  # the first 1,000 characters of the answer's body
    error: str | None
    retry_after_s: float | None  # from Retry-After on a 429 or 503, at most 24 h
    outcome: Outcome  # delivered (2xx), gone (410), retry (anything else, network errors included)


def outcome_of(status_code: int) -> Outcome:
    """2xx is delivered, 410 is gone for good, everything else (3xx included) is retried."""
    if 200 <= status_code < 300:
        return "delivered"
    return "gone" if status_code == 410 else "retry"


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delay-seconds or an HTTP-date), within 0…24 h; None if unreadable."""
    if value is None or not (value := value.strip()):
        return None
    if value.isascii() and value.isdigit():
        seconds = float(value)
    else:
        try:
            when = parsedate_to_datetime(value)
            seconds = (when - (now or datetime.now(UTC))).total_seconds()
        except (TypeError, ValueError, IndexError, OverflowError):  # unparsable, or a date without a zone
            return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def _excerpt(raw: bytes, charset: str | None) -> str:
    encoding = "utf-8"
    if charset:
        with contextlib.suppress(LookupError):  # an unknown charset: UTF-8 it is
            encoding = codecs.lookup(charset).name
    # NUL cannot be stored in a Postgres text column.
    return raw.decode(encoding, errors="replace")[:EXCERPT_CHARS].replace("\x00", "\ufffd")


def _describe(exc: BaseException, timeout_s: float) -> str:
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        text = f"{type(exc).__name__}: no complete answer within {timeout_s:g} s"
    else:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text[:_ERROR_CHARS]


async def send(
    client: httpx.AsyncClient, target: Target, headers: dict, body: bytes, *, timeout_s: float = 15
) -> Attempt:
    """POST the body to the checked address with the original Host (and SNI); never follow a redirect."""
    request_headers = {k: v for k, v in headers.items() if k.lower() not in ("host", "accept-encoding")}
    request_headers["host"] = target.host_header
    request_headers["accept-encoding"] = "identity"  # the excerpt is raw bytes; nothing to inflate
    extensions = {"sni_hostname": target.sni_hostname} if target.sni_hostname else {}
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout_s):
            request = client.build_request(
                "POST",
                target.url_for_connect,
                content=body,
                headers=request_headers,
                timeout=timeout_s,
                extensions=extensions,
            )
            response = await client.send(request, stream=True, follow_redirects=False)
            try:
                raw = b""
                async for chunk in response.aiter_raw():
                    raw += chunk
                    if len(raw) >= _EXCERPT_BYTES:
                        break
            finally:
                await response.aclose()
    except (httpx.HTTPError, OSError) as exc:  # OSError covers asyncio's TimeoutError
        duration_ms = round((time.perf_counter() - started) * 1000)
        return Attempt(None, duration_ms, None, _describe(exc, timeout_s), None, "retry")
    duration_ms = round((time.perf_counter() - started) * 1000)
    code = response.status_code
    retry_after = parse_retry_after(response.headers.get("retry-after")) if code in (429, 503) else None
    excerpt = _excerpt(raw[:_EXCERPT_BYTES], response.charset_encoding)
    return Attempt(code, duration_ms, excerpt, None, retry_after, outcome_of(code))


def next_delay(
    attempt_number: int, schedule: list[float], retry_after_s: float | None, rng: random.Random
) -> float | None:
    """Seconds to wait after failed attempt `attempt_number` (1-based): the schedule's step ±20 %, at least
    Retry-After (capped at 24 h); None once the schedule is used up."""
    if attempt_number < 1:
        raise ValueError("attempt numbers start at 1")
    if attempt_number > len(schedule):
        return None
    delay = schedule[attempt_number - 1] * rng.uniform(1 - JITTER, 1 + JITTER)
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, MAX_RETRY_AFTER_S))
    return delay


async def post_safely(url: str, headers: dict, body: bytes, settings: Settings) -> tuple[Attempt, bool]:
    """The SSRF check (DNS included, again at delivery: DNS may now point somewhere it must not), then `send` with a
    client of its own; True when the guard refused the address (nothing was sent)."""
    try:
        target = await resolve_safe(url, allowed_cidrs=settings.webhook_allowed_cidrs)
    except UnsafeUrl as exc:
        return Attempt(None, 0, None, str(exc), None, "retry"), True
    async with httpx.AsyncClient(verify=_tls_context(), trust_env=False) as client:
        return await send(client, target, headers, body, timeout_s=settings.webhook_timeout_s), False


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """The TLS settings every delivery verifies with (httpx's defaults: the certifi CA bundle, hostnames checked),
    made once per process: loading the CA bundle took ~30 ms of every delivery, a third of an alert's first attempt
    (an SSLContext is safe to share between connections)."""
    return httpx.create_ssl_context()
