"""One delivery attempt against a real HTTP receiver on loopback, and the retry schedule."""

import asyncio
import dataclasses
import random
import socket
import ssl
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from standardwebhooks.webhooks import Webhook

from shared.webhooks import signing
from shared.webhooks.sender import DEFAULT_SCHEDULE_S, next_delay, outcome_of, parse_retry_after, send
from shared.webhooks.ssrf import Target, resolve_safe

LOOPBACK = ["127.0.0.0/8"]
BODY = b'{"type":"kpi.at_risk","timestamp":"2026-11-28T05:00:00+00:00","data":{"kpi_id":"k1","value":12.5}}'


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"thanks"
    delay_s: float = 0.0  # wait this long before answering
    drip: bool = False  # send the head, then the body one byte every 50 ms


@dataclass
class Seen:
    method: str
    target: str
    headers: list[tuple[str, str]]  # as received, in order, names as sent
    body: bytes

    def values(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name]


class Receiver:
    """A tiny HTTP/1.1 server (one request per connection) that records requests and answers `reply`."""

    def __init__(self):
        self.reply = Reply()
        self.requests: list[Seen] = []
        self.sni_names: list[str | None] = []
        self.port = 0
        self._tasks: set[asyncio.Task] = set()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._tasks.add(asyncio.current_task())
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            request_line, *lines = head.removesuffix("\r\n\r\n").split("\r\n")
            method, target, _ = request_line.split(" ", 2)
            headers = [(k, v.strip()) for k, v in (line.split(":", 1) for line in lines)]
            length = int(next((v for k, v in headers if k.lower() == "content-length"), "0"))
            self.requests.append(Seen(method, target, headers, await reader.readexactly(length)))
            reply = self.reply
            await asyncio.sleep(reply.delay_s)
            length = 10_000 if reply.drip else len(reply.body)
            writer.write(f"HTTP/1.1 {reply.status} X\r\ncontent-length: {length}\r\nconnection: close\r\n".encode())
            writer.write("".join(f"{k}: {v}\r\n" for k, v in reply.headers.items()).encode() + b"\r\n")
            if not reply.drip:
                writer.write(reply.body)
            for _ in range(200 if reply.drip else 0):
                writer.write(b"x")
                await writer.drain()
                await asyncio.sleep(0.05)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()
            self._tasks.discard(asyncio.current_task())

    @asynccontextmanager
    async def running(self, ssl_context: ssl.SSLContext | None = None):
        if ssl_context is not None:
            ssl_context.sni_callback = lambda sock, name, ctx: self.sni_names.append(name)
        server = await asyncio.start_server(self.handle, "127.0.0.1", 0, ssl=ssl_context)
        self.port = server.sockets[0].getsockname()[1]
        try:
            yield self
        finally:
            server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await server.wait_closed()


@pytest.fixture
async def receiver():
    async with Receiver().running() as running:
        yield running


@pytest.fixture
async def client():
    async with httpx.AsyncClient(trust_env=False) as http:
        yield http


@pytest.fixture
async def named(monkeypatch):
    """Make `hooks.example.test` resolve to 127.0.0.1, so a request carries a real name while staying local."""
    real = asyncio.get_running_loop().getaddrinfo

    async def getaddrinfo(host, port, **kwargs):
        return await real("127.0.0.1" if host == "hooks.example.test" else host, port, **kwargs)

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", getaddrinfo)


async def _target(receiver: Receiver, path: str = "/hook?source=kpi") -> Target:
    return await resolve_safe(f"http://127.0.0.1:{receiver.port}{path}", allowed_cidrs=LOOPBACK)


def _headers(secret: str) -> dict[str, str]:
    return signing.headers([secret], signing.new_message_id(), int(time.time()), BODY)


async def test_a_2xx_is_delivered_with_the_signed_headers_and_body_exactly_as_sent(receiver, client, named):
    secret = signing.generate_secret()
    headers = _headers(secret)
    receiver.reply = Reply(status=204, body=b"")
    target = await resolve_safe(f"http://hooks.example.test:{receiver.port}/hook?source=kpi", allowed_cidrs=LOOPBACK)

    attempt = await send(client, target, headers, BODY)

    assert (attempt.outcome, attempt.status_code, attempt.error) == ("delivered", 204, None)
    assert attempt.response_excerpt == ""
    assert attempt.duration_ms >= 0
    [seen] = receiver.requests
    assert (seen.method, seen.target, seen.body) == ("POST", "/hook?source=kpi", BODY)
    for name, value in headers.items():
        assert seen.values(name) == [value]
    assert seen.values("host") == [f"hooks.example.test:{receiver.port}"]
    assert Webhook(secret).verify(seen.body, dict(seen.headers))["data"]["kpi_id"] == "k1"


async def test_a_host_header_from_the_caller_cannot_replace_the_targets(receiver, client):
    target = await _target(receiver)

    await send(client, target, {**_headers(signing.generate_secret()), "Host": "internal.admin"}, BODY)

    assert receiver.requests[0].values("host") == [f"127.0.0.1:{receiver.port}"]


@pytest.mark.parametrize(
    ("status", "outcome"), [(200, "delivered"), (202, "delivered"), (500, "retry"), (404, "retry"), (410, "gone")]
)
async def test_the_status_code_decides_the_outcome(receiver, client, status, outcome):
    receiver.reply = Reply(status=status, body=f"answer {status}".encode())

    attempt = await send(client, await _target(receiver), _headers(signing.generate_secret()), BODY)

    assert (attempt.status_code, attempt.outcome) == (status, outcome)
    assert attempt.response_excerpt == f"answer {status}"
    assert attempt.error is None
    assert attempt.retry_after_s is None


async def test_a_429_with_retry_after_is_retried_no_sooner_than_asked(receiver, client):
    receiver.reply = Reply(status=429, headers={"Retry-After": "7"}, body=b"slow down")

    attempt = await send(client, await _target(receiver), _headers(signing.generate_secret()), BODY)

    assert (attempt.outcome, attempt.status_code, attempt.retry_after_s) == ("retry", 429, 7)


async def test_a_503_with_an_http_date_retry_after_is_read_as_seconds_from_now(receiver, client):
    when = datetime.now(UTC) + timedelta(seconds=120)
    receiver.reply = Reply(status=503, headers={"Retry-After": format_datetime(when, usegmt=True)})

    attempt = await send(client, await _target(receiver), _headers(signing.generate_secret()), BODY)

    assert attempt.outcome == "retry"
    assert 115 <= attempt.retry_after_s <= 120


async def test_retry_after_is_ignored_on_other_status_codes(receiver, client):
    receiver.reply = Reply(status=500, headers={"Retry-After": "7"})

    attempt = await send(client, await _target(receiver), _headers(signing.generate_secret()), BODY)

    assert (attempt.outcome, attempt.retry_after_s) == ("retry", None)


async def test_a_redirect_is_not_followed_and_counts_as_a_failure(client):
    async with Receiver().running() as first, Receiver().running() as elsewhere:
        first.reply = Reply(status=302, headers={"Location": f"http://127.0.0.1:{elsewhere.port}/stolen"})

        attempt = await send(client, await _target(first), _headers(signing.generate_secret()), BODY)

        assert (attempt.outcome, attempt.status_code) == ("retry", 302)
        assert len(first.requests) == 1
        assert elsewhere.requests == []


async def test_a_closed_port_is_a_network_error_to_retry(client):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens once it is closed
    target = await resolve_safe(f"http://127.0.0.1:{port}/hook", allowed_cidrs=LOOPBACK)

    attempt = await send(client, target, _headers(signing.generate_secret()), BODY)

    assert (attempt.outcome, attempt.status_code, attempt.response_excerpt) == ("retry", None, None)
    assert attempt.error.startswith("ConnectError")


async def test_a_receiver_slower_than_the_timeout_is_given_up_on(receiver, client):
    receiver.reply = Reply(delay_s=3)

    attempt = await send(client, await _target(receiver), _headers(signing.generate_secret()), BODY, timeout_s=0.3)

    assert (attempt.outcome, attempt.status_code) == ("retry", None)
    assert "within 0.3 s" in attempt.error
    assert attempt.duration_ms < 2000


async def test_a_receiver_dripping_its_answer_is_cut_off_at_the_overall_deadline(receiver, client):
    # Each byte comes well within the read timeout; only an overall deadline stops this.
    receiver.reply = Reply(drip=True)

    attempt = await send(client, await _target(receiver), _headers(signing.generate_secret()), BODY, timeout_s=0.5)

    assert (attempt.outcome, attempt.status_code) == ("retry", None)
    assert "within 0.5 s" in attempt.error
    assert attempt.duration_ms < 2000


async def test_only_the_first_1000_characters_of_a_huge_answer_are_kept(receiver, client):
    receiver.reply = Reply(status=500, body="é".encode() * 2_000_000)

    attempt = await send(client, await _target(receiver), _headers(signing.generate_secret()), BODY)

    assert attempt.response_excerpt == "é" * 1000


@pytest.mark.parametrize(
    ("content_type", "body", "excerpt"),
    [
        ("text/plain; charset=iso-8859-1", b"caf\xe9", "café"),
        ("text/plain; charset=no-such-charset", b"caf\xc3\xa9", "café"),
        ("application/octet-stream", b"ok\x00\xff", "ok\ufffd\ufffd"),
    ],
)
async def test_the_answer_is_decoded_leniently_and_without_nul(receiver, client, content_type, body, excerpt):
    receiver.reply = Reply(status=400, headers={"content-type": content_type}, body=body)

    attempt = await send(client, await _target(receiver), _headers(signing.generate_secret()), BODY)

    assert attempt.response_excerpt == excerpt


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for hooks.example.test (made with `cryptography`, a dependency: nothing to skip)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hooks.example.test")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("hooks.example.test")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


async def test_https_sends_the_hostname_as_sni_and_verifies_the_certificate_against_it(certificate, named):
    cert, key = certificate
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    async with (
        Receiver().running(server_context) as receiver,
        httpx.AsyncClient(verify=ssl.create_default_context(cafile=str(cert)), trust_env=False) as client,
    ):
        target = await resolve_safe(f"https://hooks.example.test:{receiver.port}/hook", allowed_cidrs=LOOPBACK)
        assert target.url_for_connect == f"https://127.0.0.1:{receiver.port}/hook"

        attempt = await send(client, target, _headers(signing.generate_secret()), BODY)

        assert (attempt.outcome, attempt.error) == ("delivered", None)
        assert receiver.sni_names == ["hooks.example.test"]
        assert receiver.requests[0].values("host") == [f"hooks.example.test:{receiver.port}"]

        wrong_name = dataclasses.replace(target, sni_hostname="other.example.test")
        refused = await send(client, wrong_name, _headers(signing.generate_secret()), BODY)

        assert (refused.outcome, refused.status_code) == ("retry", None)
        assert "certificate" in refused.error.lower()
        assert len(receiver.requests) == 1


@pytest.mark.parametrize(
    ("status", "outcome"),
    [(200, "delivered"), (204, "delivered"), (299, "delivered"), (410, "gone")]
    + [(code, "retry") for code in (100, 301, 302, 304, 307, 400, 401, 404, 409, 429, 500, 502, 503)],
)
def test_outcome_table(status, outcome):
    assert outcome_of(status) == outcome


NOW = datetime(2026, 11, 28, 5, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7),
        (" 120 ", 120),
        ("0", 0),
        ("Sat, 28 Nov 2026 05:00:30 GMT", 30),
        ("Sat, 28 Nov 2026 04:00:00 GMT", 0),  # already past
        ("99999999", 86400),  # capped at 24 h
        ("Sun, 27 Dec 2026 05:00:00 GMT", 86400),
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("1.5", None),
        ("inf", None),
    ],
)
def test_retry_after_table(header, seconds):
    assert parse_retry_after(header, now=NOW) == seconds


@pytest.mark.parametrize(("attempt_number", "base"), list(enumerate(DEFAULT_SCHEDULE_S, start=1)))
def test_each_scheduled_delay_is_jittered_within_20_percent(attempt_number, base):
    rng = random.Random(attempt_number)
    delays = [next_delay(attempt_number, DEFAULT_SCHEDULE_S, None, rng) for _ in range(500)]

    assert all(base * 0.8 <= d <= base * 1.2 for d in delays)
    assert min(delays) < base * 0.85 and max(delays) > base * 1.15  # the jitter spreads, it is not constant


def test_the_same_seed_gives_the_same_delays():
    first = [next_delay(n, DEFAULT_SCHEDULE_S, None, random.Random(42)) for n in range(1, 8)]
    again = [next_delay(n, DEFAULT_SCHEDULE_S, None, random.Random(42)) for n in range(1, 8)]

    assert first == again


@pytest.mark.parametrize(
    ("attempt_number", "schedule", "retry_after_s", "low", "high"),
    [
        (1, [5, 300], 60, 60, 60),  # Retry-After longer than the step wins
        (2, [5, 300], 60, 240, 360),  # shorter than the step: the step stands
        (1, [5], 0, 4, 6),
        (1, [5], 200_000, 86400, 86400),  # an absurd Retry-After is capped at 24 h
        (1, [0.2, 0.2], None, 0.16, 0.24),
    ],
)
def test_retry_after_sets_a_floor_under_the_schedule(attempt_number, schedule, retry_after_s, low, high):
    delay = next_delay(attempt_number, schedule, retry_after_s, random.Random(7))

    assert low <= delay <= high


@pytest.mark.parametrize(("attempt_number", "schedule"), [(8, DEFAULT_SCHEDULE_S), (3, [5, 300]), (1, [])])
def test_no_delay_once_the_schedule_is_used_up_even_with_retry_after(attempt_number, schedule):
    assert next_delay(attempt_number, schedule, 30, random.Random(1)) is None


def test_attempt_numbers_start_at_one():
    with pytest.raises(ValueError, match="start at 1"):
        next_delay(0, DEFAULT_SCHEDULE_S, None, random.Random(1))
