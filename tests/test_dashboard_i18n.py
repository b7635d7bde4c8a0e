"""The dashboard in English and Vietnamese: the browser's Accept-Language decides until the viewer picks a language
for their session, and every message the dashboard can show has a Vietnamese translation."""

import re
from pathlib import Path

import httpx
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from services.api.dashboard import i18n
from services.api.dashboard.router import templates
from tests.test_dashboard import CSRF, sign_in

ROOT = Path(__file__).resolve().parent.parent
VIETNAMESE = {"Accept-Language": "vi-VN,vi;q=0.9,en;q=0.5"}
# A printf directive of Python's % formatting (`%(name)s`, `%d`, `%.2f`); `%%` is a literal percent sign.
DIRECTIVE = re.compile(r"%(?:\(\w+\))?[#0\- +]*(?:\d+|\*)?(?:\.(?:\d+|\*))?[diouxXeEfFgGcrsa%]")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("vi-VN,vi;q=0.9,en;q=0.5", "vi"),
        ("vi", "vi"),
        ("VI-vn", "vi"),
        ("en-GB,en;q=0.9", "en"),
        ("en-US", "en"),
        ("fr-FR,fr;q=0.9,vi;q=0.8,en;q=0.7", "vi"),  # the best one we have
        ("en;q=0.3,vi;q=0.8", "vi"),  # by quality, not by order
        ("vi;q=0,en;q=0.1", "en"),  # q=0: "not this one"
        ("fr, de", "en"),
        ("*", "en"),
        ("", "en"),
        (None, "en"),
        (";;,q=,vi;q=abc,,=", "en"),  # junk reads as nothing wanted
    ],
)
def test_the_language_is_negotiated_from_accept_language(header, expected):
    assert i18n.negotiate(header) == expected


def test_messages_are_translated_in_the_current_language_only():
    assert i18n.current_locale() == i18n.DEFAULT
    with i18n.use_locale("vi"):
        assert i18n.current_locale() == "vi"
        assert i18n.gettext("Sign out") == "Đăng xuất"
        assert i18n._("Not in any catalogue") == "Not in any catalogue"
        assert i18n.ngettext("%(n)s alert", "%(n)s alerts", 2) == "%(n)s alerts"  # untranslated: the English
    assert i18n.gettext("Sign out") == "Sign out"
    with pytest.raises(ValueError):
        i18n.set_locale("fr")


def test_template_placeholders_are_filled_after_translation_and_escaped():
    template = templates.env.from_string('{{ _("Hello %(name)s", name=who) }} {{ _("Sign out") }}')
    with i18n.use_locale("vi"):
        assert template.render(who="<b>Lan</b>") == "Hello &lt;b&gt;Lan&lt;/b&gt; Đăng xuất"


async def test_a_vietnamese_browser_gets_the_dashboard_in_vietnamese(client, keys):
    await sign_in(client, keys.viewer)
    page = await client.get("/dashboard", headers=VIETNAMESE)
    assert page.status_code == 200
    assert '<html lang="vi">' in page.text and page.headers["content-language"] == "vi"
    assert "Đăng xuất" in page.text and "Tổng quan" in page.text and "Sign out" not in page.text
    english = await client.get("/dashboard", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en">' in english.text and "Sign out" in english.text
    assert english.headers["content-language"] == "en"


async def test_messages_written_by_the_routes_follow_the_language_too(client, keys):
    form = await client.get("/dashboard/login", headers=VIETNAMESE)
    assert "Đăng nhập vào bảng điều khiển" in form.text and '<html lang="vi">' in form.text
    wrong = await client.post(
        "/dashboard/login",
        data={"api_key": "kpi_nope_0000000000000000000000000000", "csrf": CSRF.search(form.text).group(1)},
        headers=VIETNAMESE,
    )
    assert wrong.status_code == 401 and "Khóa API này không hợp lệ hoặc đã bị thu hồi." in wrong.text

    await sign_in(client, keys.viewer)
    missing = await client.get("/dashboard/kpis/0194d3a0-0000-7000-8000-000000000001", headers=VIETNAMESE)
    assert missing.status_code == 404 and "Không tìm thấy KPI" in missing.text


async def test_a_viewer_picks_english_and_it_sticks_for_their_session_only(app, client, keys):
    await sign_in(client, keys.viewer)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as other:
        await sign_in(other, keys.viewer)  # the same key in another browser: a session of its own

        page = await client.get("/dashboard?period=2026-Q4", headers=VIETNAMESE)
        assert '<html lang="vi">' in page.text
        assert 'name="next" value="/dashboard?period=2026-Q4"' in page.text  # the switch comes back here
        chosen = await client.post(
            "/dashboard/language",
            data={"locale": "en", "csrf": CSRF.search(page.text).group(1), "next": "/dashboard?period=2026-Q4"},
            headers=VIETNAMESE,
        )
        assert (chosen.status_code, chosen.headers["location"]) == (303, "/dashboard?period=2026-Q4")

        for _ in range(2):
            again = await client.get("/dashboard", headers=VIETNAMESE)
            assert '<html lang="en">' in again.text and "Sign out" in again.text and "Đăng xuất" not in again.text
            assert again.headers["content-language"] == "en"
        missing = await client.get("/dashboard/kpis/0194d3a0-0000-7000-8000-000000000001", headers=VIETNAMESE)
        assert "KPI not found" in missing.text and "Không tìm thấy" not in missing.text, "the routes' messages too"
        theirs = await other.get("/dashboard", headers=VIETNAMESE)
        assert '<html lang="vi">' in theirs.text, "another session of the same key keeps the browser's language"

        back = await client.post(
            "/dashboard/language",
            data={"locale": "vi", "csrf": CSRF.search(again.text).group(1), "next": "https://evil.example/"},
        )
        assert back.headers["location"] == "/dashboard"
        assert '<html lang="vi">' in (await client.get("/dashboard", headers={"Accept-Language": "en"})).text


async def test_an_unknown_language_is_refused(client, keys):
    await sign_in(client, keys.viewer)
    csrf = CSRF.search((await client.get("/dashboard", headers=VIETNAMESE)).text).group(1)
    for locale in ("fr", "", "vi-VN", "EN"):
        r = await client.post("/dashboard/language", data={"locale": locale, "csrf": csrf}, headers=VIETNAMESE)
        assert r.status_code == 422 and "Chưa đổi được ngôn ngữ" in r.text, locale
    assert '<html lang="vi">' in (await client.get("/dashboard", headers=VIETNAMESE)).text


async def test_changing_the_language_needs_the_pages_csrf_token(client, keys):
    await sign_in(client, keys.viewer)
    for data in ({"locale": "en"}, {"locale": "en", "csrf": "forged"}):
        r = await client.post("/dashboard/language", data=data, headers=VIETNAMESE)
        assert r.status_code == 403 and "Biểu mẫu đã hết hạn" in r.text
    assert '<html lang="vi">' in (await client.get("/dashboard", headers=VIETNAMESE)).text, "nothing changed"


async def test_changing_the_language_without_a_session_leads_to_sign_in(client):
    r = await client.post("/dashboard/language", data={"locale": "vi", "csrf": "x", "next": "/dashboard"})
    assert (r.status_code, r.headers["location"]) == (303, "/dashboard/login")


def _directives(text: str) -> list[str]:
    return sorted(d for d in DIRECTIVE.findall(text) if d != "%%")


def test_every_dashboard_message_has_a_vietnamese_translation():
    """What `make messages` extracts (babel.cfg) must be translated in the vi catalogue, not fuzzy, with the same
    placeholders: a string marked for translation and left untranslated fails here."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    extracted = {
        message: filename
        for filename, _lineno, message, _comments, _context in extract_from_dir(ROOT, method_map, options_map)
    }
    assert "Sign out" in extracted and "That API key is not valid or has been revoked." in extracted  # both kinds

    with (i18n.LOCALE_DIR / "vi" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalogue = read_po(po, locale="vi")
    problems = []
    for message, filename in extracted.items():
        ids = message if isinstance(message, tuple) else (message,)
        entry = catalogue.get(ids[0])
        strings = entry.string if entry is not None and isinstance(entry.string, tuple) else (entry and entry.string,)
        if entry is None or not all(strings):
            problems.append(f"{filename}: untranslated {ids[0]!r}")
        elif entry.fuzzy:
            problems.append(f"{filename}: fuzzy (check it, then remove the flag) {ids[0]!r}")
        elif any(_directives(string) != _directives(ids[-1 if i else 0]) for i, string in enumerate(strings)):
            problems.append(f"{filename}: placeholders differ {ids[0]!r} -> {strings!r}")
    assert not problems, "run `make messages` and translate in the vi catalogue:\n" + "\n".join(problems)
