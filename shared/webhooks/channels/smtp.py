"""One e-mail delivery attempt over SMTP, reported as the webhook sender's `Attempt` so the delivery machinery
(retry schedule, delivery log, disabling after days of failure) treats e-mail like any other channel.

The SMTP server is an address our worker connects to on an operator's or an admin's say-so, so it passes the
webhooks' SSRF guard first (`check_host`): every address its name resolves to must be public unless inside
`allowed_cidrs`. We then connect to the very address that was checked (a socket we open ourselves) and verify
TLS against the configured name, so a DNS answer that changes after the check cannot move us inside.

A refused host is not an exception: `send_email` returns an `EmailAttempt` with `refused=True`, no status code,
the reason in `error` (starting "Refused: "), and outcome "retry" (an operator may fix the allow-list; the
schedule gives up in time). As for webhooks, a name that does not resolve counts as refused too.
No SMTP, network or timeout error escapes either: each becomes an attempt to log.
"""

import asyncio
import contextlib
import functools
import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Literal

import aiosmtplib

from shared.webhooks.sender import EXCERPT_CHARS, Attempt
from shared.webhooks.ssrf import CheckedHost, UnsafeUrl, check_host

Security = Literal["starttls", "tls", "none"]
_ERROR_CHARS = 500
QUIT_TIMEOUT_S = 2.0
REFUSAL_ADVICE = (
    "e-mail goes to public SMTP servers only (an operator may allow a network with WEBHOOK_ALLOWED_CIDRS, e.g. for "
    "a relay inside)"
)


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send: `starttls` upgrades a plain connection (port 587, required: no silent plain text),
    `tls` speaks TLS from the start (port 465), `none` never encrypts (a relay on a trusted network)."""

    host: str
    port: int
    security: Security
    username: str | None
    password: str | None = field(repr=False)  # must not reach a log through a repr
    sender: str  # the envelope sender (MAIL FROM), e.g. "alerts@kpi.example"


@dataclass(frozen=True)
class EmailAttempt(Attempt):
    """An `Attempt` that also says whether the SSRF guard refused the host (nothing was sent, nothing connected)."""

    refused: bool = False


def _elapsed_ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


def _short(text: str, limit: int) -> str:
    return text.replace("\x00", "\ufffd")[:limit]


def _failure(started: float, exc: BaseException, timeout_s: float) -> EmailAttempt:
    """An error attempt: the server's reply code and text when it answered, else only the error."""
    code: int | None = None
    reply: str | None = None
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        code, reply = exc.recipients[0].code, exc.recipients[0].message
    elif isinstance(exc, aiosmtplib.SMTPResponseException):
        code, reply = exc.code, exc.message
    if isinstance(exc, TimeoutError):  # aiosmtplib's timeouts are TimeoutErrors too
        error = f"{type(exc).__name__}: no complete answer within {timeout_s:g} s"
    else:
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    excerpt = _short(reply, EXCERPT_CHARS) if reply is not None else None
    return EmailAttempt(code, _elapsed_ms(started), excerpt, _short(error, _ERROR_CHARS), None, "retry")


@functools.cache
def _system_trust() -> ssl.SSLContext:
    """The system's CAs with host names checked, loaded once per process (tens of milliseconds each time)."""
    return ssl.create_default_context()


@functools.cache
def _local_hostname() -> str:
    """The name we greet servers with (EHLO), looked up once: it may ask DNS, which can be slow."""
    return socket.getfqdn()


async def _connected_socket(checked: CheckedHost) -> socket.socket:
    """A TCP connection to the checked address itself (not to the name, which could resolve elsewhere now)."""
    family = socket.AF_INET6 if ":" in checked.address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        await asyncio.get_running_loop().sock_connect(sock, (checked.address, checked.port))
    except BaseException:
        sock.close()
        raise
    return sock


async def _deliver(
    smtp: SmtpSettings,
    checked: CheckedHost,
    message: EmailMessage,
    timeout_s: float,
    tls_context: ssl.SSLContext | None,
) -> str:
    """Connect, secure, log in and send within `timeout_s`; the final reply's text (DATA answered 250). QUIT comes
    after the deadline, briefly: once the message is accepted, a slow goodbye must not turn it into a retry (and so
    a second copy).

    The socket passes to aiosmtplib (and asyncio's transport, which closes it) in `connect`, with nothing awaited
    in between, so it is never closed twice: closing it under a TLS transport still shutting down would free its
    file descriptor for the next connection while the old transport still watches it."""
    client: aiosmtplib.SMTP | None = None
    try:
        async with asyncio.timeout(timeout_s):
            client = aiosmtplib.SMTP(
                hostname=checked.host,  # TLS verifies the certificate against this name (and sends it as SNI)
                use_tls=smtp.security == "tls",
                start_tls=smtp.security == "starttls",
                username=smtp.username,
                password=smtp.password,
                timeout=timeout_s,
                tls_context=tls_context or _system_trust(),
                local_hostname=await asyncio.to_thread(_local_hostname),
            )
            await client.connect(sock=await _connected_socket(checked))
            errors, reply = await client.send_message(message, sender=smtp.sender)
        with contextlib.suppress(aiosmtplib.SMTPException, OSError):
            await client.quit(timeout=QUIT_TIMEOUT_S)
    finally:
        if client is not None:
            client.close()
    if errors:  # some recipients were refused, the others accepted: delivered, and the log says who was not
        refused = ", ".join(f"{to} ({r.code} {r.message})" for to, r in errors.items())
        reply = f"{reply} (refused: {refused})"
    return reply


async def send_email(
    smtp: SmtpSettings,
    message: EmailMessage,
    *,
    timeout_s: float,
    allowed_cidrs: Sequence[str],
    tls_context: ssl.SSLContext | None = None,
) -> EmailAttempt:
    """Send one message (recipients from its To/Cc/Bcc; Bcc is not transmitted) and never raise for SMTP, network
    or timeout errors. Resolving the host, then connecting and sending, are each bounded by `timeout_s`.

    status_code is the SMTP reply code: 250 when accepted, the refusal's (451, 535, 550…) otherwise, None when no
    reply came; outcome is "delivered" or "retry"; `refused` is True when the SSRF guard stopped it.
    `tls_context` is whom to trust (default: the system's CAs, host names verified); build it once per process."""
    started = time.perf_counter()
    try:
        checked = await check_host(
            smtp.host, smtp.port, allowed_cidrs=list(allowed_cidrs), advice=REFUSAL_ADVICE, resolve_timeout_s=timeout_s
        )
    except UnsafeUrl as exc:
        error = _short(f"Refused: the SMTP server {exc}", _ERROR_CHARS)
        return EmailAttempt(None, _elapsed_ms(started), None, error, None, "retry", refused=True)
    try:
        reply = await _deliver(smtp, checked, message, timeout_s, tls_context)
    except (aiosmtplib.SMTPException, OSError, ValueError) as exc:  # OSError covers TimeoutError and ssl errors
        return _failure(started, exc, timeout_s)
    return EmailAttempt(250, _elapsed_ms(started), _short(reply, EXCERPT_CHARS), None, None, "delivered")
