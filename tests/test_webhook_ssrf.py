"""The SSRF guard: webhook URLs may point at public addresses only, unless a range is allow-listed."""

import asyncio
import socket

import httpx
import pytest

from shared.webhooks.ssrf import UnsafeUrl, check_url, check_url_syntax, resolve_safe


class FakeDns:
    """Stands in for the loop's getaddrinfo: answers from a table and records what was asked."""

    def __init__(self):
        self.table: dict[str, list[str]] = {}
        self.asked: list[str] = []
        self.delay_s = 0.0

    async def getaddrinfo(self, host, port, *, family=0, type=0, proto=0, flags=0):
        self.asked.append(host)
        await asyncio.sleep(self.delay_s)
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (a, port, 0, 0))
            if ":" in a
            else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in self.table[host]
        ]


@pytest.fixture
async def dns(monkeypatch) -> FakeDns:
    fake = FakeDns()
    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", fake.getaddrinfo)
    return fake


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1/hook", "loopback"),
        ("http://10.0.0.1/hook", "private"),
        ("http://172.16.0.5/hook", "private"),
        ("http://192.168.1.1/hook", "private"),
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://169.254.10.10/", "link-local"),
        ("http://100.100.100.200/", "metadata"),
        ("http://[fd00:ec2::254]/", "metadata"),
        ("http://100.64.0.1/", "shared"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://224.0.0.1/", "multicast"),
        ("http://240.0.0.1/", "reserved"),
        ("http://192.0.2.10/", "private"),  # documentation range
        ("http://[::1]/hook", "loopback"),
        ("http://[::1]:8080/hook", "loopback"),
        ("http://[fe80::1]/", "link-local"),
        ("http://[fc00::1]/", "private"),
        ("http://[::]/", "unspecified"),
        ("http://[ff02::1]/", "multicast"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://[::ffff:a9fe:a9fe]/", "metadata"),  # 169.254.169.254, mapped
        ("http://[2002:7f00:1::]/", "loopback address inside IPv6"),  # 6to4 around 127.0.0.1
        ("http://[64:ff9b::a00:1]/", "private address inside IPv6"),  # NAT64 around 10.0.0.1
        ("http://[fec0::1]/", "site-local"),  # deprecated, but still routed inside some networks
        ("http://[feff:ffff::1]/", "site-local"),
        ("http://192.0.0.1/", "IETF protocol assignment"),
        ("http://192.0.0.100/", "IETF protocol assignment"),  # `ipaddress` calls this one global
        ("http://192.0.0.255/", "IETF protocol assignment"),
        ("http://[::ffff:192.0.0.100]/", "IETF protocol assignment"),
        ("http://[2002:c000:64::]/", "IETF protocol assignment address inside IPv6"),  # 6to4 around 192.0.0.100
    ],
)
async def test_a_url_pointing_inside_is_refused(url, why):
    with pytest.raises(UnsafeUrl, match=why):
        await resolve_safe(url, allowed_cidrs=[])


@pytest.mark.parametrize("url", ["http://localhost:8000/hook", "http://2130706433/", "http://0x7f.1/", "http://127.1/"])
async def test_a_name_or_numeric_spelling_that_resolves_to_loopback_is_refused(url):
    with pytest.raises(UnsafeUrl, match="loopback"):
        await check_url(url, [])


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://example.com/hook", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("example.com/hook", "only http and https"),
        ("http://user:pw@example.com/", "user name or password"),
        ("http://@example.com/", "user name or password"),
        ("http:///hook", "no host"),
        ("https://", "no host"),
        ("http://example.com:0/", "port may not be 0"),
        ("http://example.com:99999/", "not valid"),
        ("http://[::1/", "not valid"),
        ("http://example.com/a b", "spaces or control characters"),
        ("http://example.com/\r\nX-Injected: 1", "spaces or control characters"),
        ("https://example.com/" + "a" * 1990, "longer than 2000"),
    ],
)
def test_a_malformed_url_is_refused_without_dns(url, why):
    with pytest.raises(UnsafeUrl, match=why):
        check_url_syntax(url)


def test_the_syntax_check_does_no_dns_and_accepts_any_well_formed_url():
    check_url_syntax("http://localhost:8000/hook")
    check_url_syntax("https://hooks.example.com/kpi?token=abc#ignored")
    check_url_syntax("https://example.com/" + "a" * 1980)


async def test_a_public_ip_literal_is_accepted_without_any_dns(dns):
    target = await check_url("http://93.184.216.34/hook?x=1", [])

    assert dns.asked == []
    assert target.address == "93.184.216.34"
    assert target.url_for_connect == "http://93.184.216.34:80/hook?x=1"
    assert target.host_header == "93.184.216.34"
    assert target.sni_hostname is None


async def test_loopback_is_accepted_inside_an_allowed_range():
    target = await resolve_safe("http://127.0.0.1:8080/hook?x=1#frag", allowed_cidrs=["127.0.0.0/8"])

    assert (target.scheme, target.host, target.port) == ("http", "127.0.0.1", 8080)
    assert target.path_and_query == "/hook?x=1"
    assert target.url_for_connect == "http://127.0.0.1:8080/hook?x=1"
    assert target.host_header == "127.0.0.1:8080"


async def test_an_allowed_range_opens_only_itself():
    with pytest.raises(UnsafeUrl, match="private"):
        await resolve_safe("http://10.0.0.1/", allowed_cidrs=["127.0.0.0/8"])


@pytest.mark.parametrize(
    ("url", "allowed"), [("http://[fec0::10]/", "fec0::/10"), ("http://192.0.0.50/", "192.0.0.0/24")]
)
async def test_site_local_and_ietf_protocol_ranges_open_when_allow_listed(url, allowed):
    target = await resolve_safe(url, allowed_cidrs=[allowed])

    assert target.address == url.split("//")[1].strip("[]/")


async def test_cloud_metadata_stays_refused_even_inside_an_allowed_range():
    allowed = ["169.254.0.0/16", "100.64.0.0/10"]
    assert (await resolve_safe("http://169.254.1.1/", allowed_cidrs=allowed)).address == "169.254.1.1"
    for url in ("http://169.254.169.254/", "http://100.100.100.200/"):
        with pytest.raises(UnsafeUrl, match="metadata"):
            await resolve_safe(url, allowed_cidrs=allowed)


async def test_a_mapped_ipv6_address_counts_as_the_ipv4_it_carries():
    target = await resolve_safe("http://[::ffff:127.0.0.1]:9000/", allowed_cidrs=["127.0.0.0/8"])

    assert target.address == "127.0.0.1"
    assert target.url_for_connect == "http://127.0.0.1:9000/"
    assert target.host_header == "[::ffff:127.0.0.1]:9000"


async def test_an_ipv6_literal_keeps_its_brackets_in_the_connect_url_and_the_host_header():
    target = await resolve_safe("https://[2606:4700:4700::1111]:8443/kpi?a=1", allowed_cidrs=[])

    assert target.host == "2606:4700:4700::1111"
    assert target.address == "2606:4700:4700::1111"
    assert target.url_for_connect == "https://[2606:4700:4700::1111]:8443/kpi?a=1"
    assert httpx.URL(target.url_for_connect).host == "2606:4700:4700::1111"
    assert target.host_header == "[2606:4700:4700::1111]:8443"
    assert target.sni_hostname is None  # an IP literal has no name to send


async def test_an_ipv6_literal_on_the_default_port_has_a_bare_bracketed_host_header():
    target = await resolve_safe("https://[2606:4700:4700::1111]/", allowed_cidrs=[])

    assert target.host_header == "[2606:4700:4700::1111]"
    assert target.url_for_connect == "https://[2606:4700:4700::1111]:443/"


async def test_a_hostname_connects_to_the_checked_address_and_keeps_its_name_for_host_and_sni(dns):
    dns.table["hooks.example.com"] = ["93.184.216.34"]

    target = await resolve_safe("https://Hooks.Example.com/kpi", allowed_cidrs=[])

    assert dns.asked == ["hooks.example.com"]
    assert target.address == "93.184.216.34"
    assert target.url_for_connect == "https://93.184.216.34:443/kpi"
    assert target.host_header == "hooks.example.com"
    assert target.sni_hostname == "hooks.example.com"


async def test_a_plain_http_hostname_sends_no_sni_and_keeps_a_non_default_port_in_host(dns):
    dns.table["hooks.example.com"] = ["93.184.216.34"]

    target = await resolve_safe("http://hooks.example.com:8080/", allowed_cidrs=[])

    assert target.host_header == "hooks.example.com:8080"
    assert target.sni_hostname is None


async def test_a_hostname_answering_ipv6_first_connects_to_it_in_brackets(dns):
    dns.table["v6.example.com"] = ["2606:4700::6810:84e5", "104.16.132.229"]

    target = await resolve_safe("https://v6.example.com/", allowed_cidrs=[])

    assert target.address == "2606:4700::6810:84e5"
    assert target.url_for_connect == "https://[2606:4700::6810:84e5]:443/"
    assert target.host_header == "v6.example.com"


@pytest.mark.parametrize(
    "answers",
    [["93.184.216.34", "10.0.0.7"], ["10.0.0.7", "93.184.216.34"], ["2606:4700::1", "::1"], ["::ffff:169.254.169.254"]],
)
async def test_a_hostname_is_refused_when_any_of_its_addresses_points_inside(dns, answers):
    dns.table["rebind.example.com"] = answers

    with pytest.raises(UnsafeUrl, match=r"rebind\.example\.com \("):
        await check_url("https://rebind.example.com/hook", [])


async def test_a_hostname_that_does_not_resolve_is_refused(dns):
    with pytest.raises(UnsafeUrl, match="does not resolve"):
        await check_url("https://nowhere.example.com/", [])


async def test_a_resolver_that_hangs_is_given_up_on(dns):
    dns.table["slow.example.com"] = ["93.184.216.34"]
    dns.delay_s = 5

    with pytest.raises(UnsafeUrl, match="did not resolve within"):
        await resolve_safe("https://slow.example.com/", allowed_cidrs=[], resolve_timeout_s=0.05)


async def test_an_international_name_is_resolved_and_sent_in_its_ascii_form(dns):
    dns.table["xn--bcher-kva.example"] = ["93.184.216.34"]

    target = await resolve_safe("https://bücher.example/", allowed_cidrs=[])

    assert dns.asked == ["xn--bcher-kva.example"]
    assert target.host_header == "xn--bcher-kva.example"
    assert target.sni_hostname == "xn--bcher-kva.example"


async def test_the_path_cannot_move_the_host_the_request_goes_to():
    target = await resolve_safe("http://93.184.216.34/a@127.0.0.1:80/b\\@10.0.0.1/", allowed_cidrs=[])

    assert httpx.URL(target.url_for_connect).host == "93.184.216.34"


async def test_a_malformed_allowed_range_is_a_configuration_error_not_an_unsafe_url():
    with pytest.raises(ValueError, match="not a CIDR") as caught:
        await resolve_safe("http://93.184.216.34/", allowed_cidrs=["127.0.0.0/33"])

    assert not isinstance(caught.value, UnsafeUrl)


@pytest.mark.parametrize("url", ["http://[fe80::1%25eth0]/", "http://[2606:4700::1%25eth0]/"])
async def test_an_ipv6_zone_identifier_is_refused_even_inside_an_allowed_range(url):
    with pytest.raises(UnsafeUrl, match="zone identifiers"):
        await resolve_safe(url, allowed_cidrs=["fe80::/10", "2606:4700::/32"])
