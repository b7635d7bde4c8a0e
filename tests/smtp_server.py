"""A real SMTP server on loopback for e-mail tests (aiosmtpd, in its own thread): records every message it accepts,
can require AUTH (PLAIN/LOGIN over plain loopback), can speak TLS (implicit, or STARTTLS required) with a
certificate from a throwaway CA, and can answer DATA with a temporary failure for the next few messages, so
retries are tested against real SMTP replies.

    async with running_smtp_server(auth=("alerts", "s3cret")) as server:
        ...send to server.host, server.port...
        [message] = await server.wait_for(1)
"""

import asyncio
import datetime
import ipaddress
import socket
import ssl
import tempfile
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from pathlib import Path
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes  # the message exactly as received
    login: str | None  # the user name the session authenticated as
    tls: bool  # the session was encrypted (implicit TLS or after STARTTLS)

    def parsed(self) -> EmailMessage:
        message = BytesParser(policy=default).parsebytes(self.data)
        assert isinstance(message, EmailMessage)
        return message


@dataclass
class SmtpServer:
    host: str
    port: int
    auth: tuple[str, str] | None = None
    fail_next: int = 0  # answer DATA with `fail_reply` for this many messages (not recorded)
    fail_reply: str = "451 4.3.0 Mailbox temporarily unavailable, try again later"
    unknown_recipients: set[str] = field(default_factory=set)  # answered "550 No such user" at RCPT
    received: list[ReceivedMail] = field(default_factory=list)
    refused: int = 0  # DATA commands answered with fail_reply
    logins: list[tuple[str, str]] = field(default_factory=list)  # every AUTH attempt, successful or not
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def wait_for(self, count: int, timeout_s: float = 10) -> list[ReceivedMail]:
        """The messages received once there are `count`; fails the test after `timeout_s`."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while len(self.received) < count:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"expected {count} e-mails, got {len(self.received)}")
            await asyncio.sleep(0.02)
        return list(self.received)

    # aiosmtpd calls the hooks below on its own thread's event loop.

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        # Required AUTH is enforced here rather than by aiosmtpd's auth_required, which warns on every session
        # without TLS (plain AUTH over loopback is the point of this mode).
        if self.auth is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if address in self.unknown_recipients:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                self.refused += 1
                return self.fail_reply
            login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
            tls = session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None
            rcpt_tos = list(envelope.rcpt_tos)
            self.received.append(ReceivedMail(envelope.mail_from, rcpt_tos, envelope.original_content, login, tls))
        return "250 2.0.0 Message accepted for delivery"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        if not isinstance(auth_data, LoginPassword) or self.auth is None:
            return AuthResult(success=False, handled=False)
        given = (auth_data.login.decode(), auth_data.password.decode())
        with self._lock:
            self.logins.append(given)
        return AuthResult(success=given == self.auth, handled=False, auth_data=auth_data)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _alt_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def tls_contexts(*names: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A throwaway CA and a server certificate for `names` (host names or IPs): the server's context, and a client
    context that trusts that CA only (verifying host names as usual)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder(subject_name=_name("Test CA"), issuer_name=_name("Test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder(subject_name=_name(names[0]), issuer_name=ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([_alt_name(n) for n in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as folder:  # load_cert_chain reads files only
        cert_file, key_file = Path(folder) / "cert.pem", Path(folder) / "key.pem"
        cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cadata=ca.public_bytes(serialization.Encoding.PEM).decode())
    return server, client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@asynccontextmanager
async def running_smtp_server(
    *,
    auth: tuple[str, str] | None = None,
    fail_next: int = 0,
    tls: Literal["tls", "starttls"] | None = None,
    tls_context: ssl.SSLContext | None = None,
) -> AsyncIterator[SmtpServer]:
    """An SMTP server on a free loopback port for the block's duration; with `auth`, MAIL needs a login first; with
    `tls` and a server context (tls_contexts), TLS from the first byte or STARTTLS before MAIL."""
    server = SmtpServer(host="127.0.0.1", port=free_port(), auth=auth, fail_next=fail_next)
    options: dict[str, Any] = {}
    if auth is not None:
        # Plain AUTH over loopback: aiosmtpd otherwise offers AUTH only after STARTTLS.
        options |= {"authenticator": server.authenticate, "auth_require_tls": False}
    if tls == "tls":
        options |= {"ssl_context": tls_context}
    elif tls == "starttls":
        options |= {"tls_context": tls_context, "require_starttls": True}
    controller = Controller(server, hostname=server.host, port=server.port, enable_SMTPUTF8=True, **options)
    await asyncio.to_thread(controller.start)
    try:
        yield server
    finally:
        await asyncio.to_thread(controller.stop)
