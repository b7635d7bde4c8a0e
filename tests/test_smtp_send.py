"""Sending an alert e-mail to a real SMTP server (aiosmtpd on loopback): accepted mail is delivered, a login reaches
the server, refusals and dead servers become attempts to retry, and the SSRF guard keeps the worker away from
addresses nobody allowed."""

import socket
import time

import pytest

from shared.webhooks.channels.render import email_message
from shared.webhooks.channels.smtp import Security, SmtpSettings, send_email
from shared.webhooks.ssrf import UnsafeUrl, check_host
from tests.smtp_server import free_port, running_smtp_server, tls_contexts
from tests.test_notification_render import kpi_event

LOOPBACK = ["127.0.0.0/8"]
SENDER = "alerts@kpi.example"

EVENT = kpi_event()  # an off-track CPA, as tests/test_notification_render.py renders it


def settings_for(
    port: int, *, host: str = "127.0.0.1", auth: tuple[str, str] | None = None, security: Security = "none"
) -> SmtpSettings:
    username, password = auth or (None, None)
    return SmtpSettings(host=host, port=port, security=security, username=username, password=password, sender=SENDER)


def alert_mail(*recipients: str):
    return email_message(EVENT, None, sender=f"KPI alerts <{SENDER}>", recipients=list(recipients))


async def test_an_accepted_email_is_delivered_with_the_servers_reply():
    async with running_smtp_server() as server:
        attempt = await send_email(
            settings_for(server.port),
            alert_mail("lan@example.com", "minh@example.com"),
            timeout_s=5,
            allowed_cidrs=LOOPBACK,
        )
        [received] = await server.wait_for(1)

    assert (attempt.outcome, attempt.status_code, attempt.error, attempt.refused) == ("delivered", 250, None, False)
    assert attempt.response_excerpt is not None and "accepted" in attempt.response_excerpt
    assert received.mail_from == SENDER
    assert received.rcpt_tos == ["lan@example.com", "minh@example.com"]
    assert received.parsed()["Subject"] == "[Off track] CPA: 24.5 vs target 20 (2026-11)"
    assert received.login is None


async def test_an_unknown_recipient_is_named_while_the_others_get_the_mail():
    async with running_smtp_server() as server:
        server.unknown_recipients = {"gone@example.com"}
        attempt = await send_email(
            settings_for(server.port),
            alert_mail("gone@example.com", "lan@example.com"),
            timeout_s=5,
            allowed_cidrs=LOOPBACK,
        )
        [received] = await server.wait_for(1)

    assert (attempt.outcome, attempt.status_code) == ("delivered", 250)
    assert received.rcpt_tos == ["lan@example.com"]
    assert attempt.response_excerpt is not None
    assert "refused: gone@example.com (550 5.1.1 No such user here)" in attempt.response_excerpt


async def test_when_every_recipient_is_unknown_the_attempt_carries_the_550():
    async with running_smtp_server() as server:
        server.unknown_recipients = {"gone@example.com"}
        attempt = await send_email(
            settings_for(server.port), alert_mail("gone@example.com"), timeout_s=5, allowed_cidrs=LOOPBACK
        )

    assert (attempt.outcome, attempt.status_code) == ("retry", 550)
    assert attempt.response_excerpt == "5.1.1 No such user here"


async def test_a_login_reaches_the_server():
    async with running_smtp_server(auth=("alerts", "s3cret")) as server:
        attempt = await send_email(
            settings_for(server.port, auth=("alerts", "s3cret")),
            alert_mail("lan@example.com"),
            timeout_s=5,
            allowed_cidrs=LOOPBACK,
        )
        [received] = await server.wait_for(1)

    assert attempt.outcome == "delivered"
    assert server.logins == [("alerts", "s3cret")]
    assert received.login == "alerts"


async def test_a_server_that_requires_a_login_refuses_mail_without_one():
    async with running_smtp_server(auth=("alerts", "s3cret")) as server:
        attempt = await send_email(
            settings_for(server.port), alert_mail("lan@example.com"), timeout_s=5, allowed_cidrs=LOOPBACK
        )
        assert server.received == []

    assert (attempt.outcome, attempt.status_code) == ("retry", 530)
    assert attempt.response_excerpt == "5.7.0 Authentication required"


async def test_a_wrong_password_is_an_attempt_with_the_servers_535():
    async with running_smtp_server(auth=("alerts", "s3cret")) as server:
        attempt = await send_email(
            settings_for(server.port, auth=("alerts", "wrong")),
            alert_mail("lan@example.com"),
            timeout_s=5,
            allowed_cidrs=LOOPBACK,
        )
        assert server.received == []

    assert (attempt.outcome, attempt.status_code) == ("retry", 535)
    assert attempt.error is not None and attempt.error.startswith("SMTPAuthenticationError")


async def test_a_temporary_refusal_is_retried_and_the_next_attempt_gets_through():
    async with running_smtp_server(fail_next=1) as server:
        first = await send_email(
            settings_for(server.port), alert_mail("lan@example.com"), timeout_s=5, allowed_cidrs=LOOPBACK
        )
        assert server.received == [] and server.refused == 1
        second = await send_email(
            settings_for(server.port), alert_mail("lan@example.com"), timeout_s=5, allowed_cidrs=LOOPBACK
        )
        await server.wait_for(1)

    assert (first.outcome, first.status_code, first.refused) == ("retry", 451, False)
    assert first.response_excerpt == "4.3.0 Mailbox temporarily unavailable, try again later"
    assert first.error is not None and first.error.startswith("SMTPDataError: ")
    assert (second.outcome, second.status_code) == ("delivered", 250)


async def test_a_closed_port_is_an_error_attempt_without_a_status_code():
    attempt = await send_email(
        settings_for(free_port()), alert_mail("lan@example.com"), timeout_s=5, allowed_cidrs=LOOPBACK
    )

    assert (attempt.outcome, attempt.status_code, attempt.response_excerpt, attempt.refused) == (
        "retry",
        None,
        None,
        False,
    )
    assert attempt.error is not None and "ConnectionRefusedError" in attempt.error


async def test_a_server_that_never_greets_times_out_as_an_attempt():
    with socket.socket() as silent:  # accepts connections (the kernel's backlog) but never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        started = time.perf_counter()
        attempt = await send_email(
            settings_for(silent.getsockname()[1]),
            alert_mail("lan@example.com"),
            timeout_s=0.5,
            allowed_cidrs=LOOPBACK,
        )

    assert time.perf_counter() - started < 3
    assert (attempt.outcome, attempt.status_code) == ("retry", None)
    assert attempt.error is not None and "within 0.5 s" in attempt.error


@pytest.mark.parametrize("security", ["tls", "starttls"])
async def test_tls_and_starttls_deliver_encrypted_and_log_in_inside(security):
    server_tls, trust = tls_contexts("127.0.0.1")
    async with running_smtp_server(auth=("alerts", "s3cret"), tls=security, tls_context=server_tls) as server:
        attempt = await send_email(
            settings_for(server.port, auth=("alerts", "s3cret"), security=security),
            alert_mail("lan@example.com"),
            timeout_s=5,
            allowed_cidrs=LOOPBACK,
            tls_context=trust,
        )
        [received] = await server.wait_for(1)

    assert (attempt.outcome, attempt.status_code) == ("delivered", 250)
    assert received.tls is True and received.login == "alerts"


@pytest.mark.parametrize("security", ["tls", "starttls"])
async def test_a_certificate_nobody_trusts_is_refused_before_anything_is_sent(security):
    server_tls, _trust = tls_contexts("127.0.0.1")
    async with running_smtp_server(auth=("alerts", "s3cret"), tls=security, tls_context=server_tls) as server:
        attempt = await send_email(  # the system's CAs: the throwaway test CA is not among them
            settings_for(server.port, auth=("alerts", "s3cret"), security=security),
            alert_mail("lan@example.com"),
            timeout_s=5,
            allowed_cidrs=LOOPBACK,
        )
        assert server.received == [] and server.logins == []  # the password never left

    assert (attempt.outcome, attempt.status_code) == ("retry", None)
    assert attempt.error is not None and "CERTIFICATE_VERIFY_FAILED" in attempt.error


async def test_the_certificate_must_name_the_configured_host():
    server_tls, trust = tls_contexts("mail.example")  # trusted, but for another name
    async with running_smtp_server(tls="tls", tls_context=server_tls) as server:
        attempt = await send_email(
            settings_for(server.port, security="tls"),
            alert_mail("lan@example.com"),
            timeout_s=5,
            allowed_cidrs=LOOPBACK,
            tls_context=trust,
        )
        assert server.received == []

    assert attempt.outcome == "retry"
    assert attempt.error is not None and "127.0.0.1" in attempt.error


async def test_starttls_never_falls_back_to_plain_text():
    """A server without STARTTLS gets nothing when STARTTLS was asked for."""
    async with running_smtp_server() as server:
        attempt = await send_email(
            settings_for(server.port, security="starttls"),
            alert_mail("lan@example.com"),
            timeout_s=5,
            allowed_cidrs=LOOPBACK,
        )
        assert server.received == []

    assert attempt.outcome == "retry"
    assert attempt.error is not None and "STARTTLS" in attempt.error


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "10.0.0.25", "169.254.169.254"])
async def test_a_host_the_ssrf_guard_refuses_is_never_contacted(host):
    async with running_smtp_server() as server:
        attempt = await send_email(
            settings_for(server.port, host=host), alert_mail("lan@example.com"), timeout_s=5, allowed_cidrs=[]
        )
        assert server.received == []

    assert attempt.refused is True
    assert (attempt.outcome, attempt.status_code, attempt.response_excerpt) == ("retry", None, None)
    assert attempt.error is not None and attempt.error.startswith("Refused: the SMTP server ")
    assert "public SMTP servers only" in attempt.error


async def test_the_password_stays_out_of_the_settings_repr():
    assert "s3cret" not in repr(settings_for(25, auth=("alerts", "s3cret")))


@pytest.mark.parametrize(
    ("host", "port", "why"),
    [
        ("mail.example\r\nRCPT TO:<x@y>", 25, "control characters"),
        ("", 25, "1 to 253 characters"),
        ("mail.example", 0, "between 1 and 65535"),
        ("user@mail.example", 25, "'@'"),
        ("[::1]", 25, "brackets"),
        ("169.254.169.254", 25, "cloud metadata"),  # refused even inside an allowed range
    ],
)
async def test_the_host_guard_refuses_what_no_smtp_server_should_be(host, port, why):
    with pytest.raises(UnsafeUrl, match=why):
        await check_host(host, port, allowed_cidrs=["169.254.0.0/16"])


async def test_the_host_guard_aims_at_the_checked_address():
    checked = await check_host("127.0.0.1", 2525, allowed_cidrs=LOOPBACK)

    assert (checked.host, checked.port, checked.address) == ("127.0.0.1", 2525, "127.0.0.1")
