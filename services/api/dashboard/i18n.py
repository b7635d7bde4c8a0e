"""The dashboard's languages: English (the messages as written) and Vietnamese, from gettext catalogues.

A viewer's choice is kept on their dashboard session; without one, the browser's Accept-Language decides. The
language of the request being handled lives in a ContextVar, so `gettext` in Python and `_()` / `{% trans %}` in
templates read the same one. Catalogues are the `.po` files under locale/ compiled in memory once per process:
no `.mo` is committed and nothing needs building (`make messages` extracts and merges new strings).
"""

import contextvars
import functools
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path
from typing import Any

import jinja2
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from fastapi import Request

SUPPORTED = ("en", "vi")
DEFAULT = "en"
LOCALE_DIR = Path(__file__).parent / "locale"
MAX_LANGUAGE_RANGES = 32  # an Accept-Language header is short; a longer one is read no further

_current: contextvars.ContextVar[str] = contextvars.ContextVar("dashboard_locale", default=DEFAULT)


def negotiate(accept_language: str | None) -> str:
    """The supported language the browser prefers most (q-values honoured; `vi-VN` is `vi`), DEFAULT if none."""
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate((accept_language or "").split(",")[:MAX_LANGUAGE_RANGES]):
        tag, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            name, _sep, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        language = tag.split("-")[0].split("_")[0].lower()
        if quality > 0 and language in SUPPORTED:
            ranked.append((-quality, position, language))
    return min(ranked)[2] if ranked else DEFAULT


def current_locale() -> str:
    """The language of the page being made (DEFAULT outside a request)."""
    return _current.get()


def set_locale(code: str) -> contextvars.Token[str]:
    """Make `code` the language of the rest of this request (or until the token is reset)."""
    if code not in SUPPORTED:
        raise ValueError(f"unsupported locale {code!r}; one of {SUPPORTED}")
    return _current.set(code)


@contextmanager
def use_locale(code: str) -> Iterator[str]:
    """Within the block, `code` is the language; the previous one afterwards."""
    token = set_locale(code)
    try:
        yield code
    finally:
        _current.reset(token)


@functools.cache
def translations(code: str) -> NullTranslations:
    """The catalogue of `code`, read from its .po and compiled in memory (once per process; fuzzy and untranslated
    entries are left out, so their English shows)."""
    path = LOCALE_DIR / code / "LC_MESSAGES" / "messages.po"
    if not path.is_file():
        return NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=code)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


def gettext(message: str) -> str:
    """`message` in the current language."""
    return translations(current_locale()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural of a message, for `n`, in the current language (Vietnamese has one form)."""
    return translations(current_locale()).ngettext(singular, plural, n)


_ = gettext


def install(env: jinja2.Environment) -> None:
    """Give a Jinja environment `_()`, `gettext`, `ngettext` and `{% trans %}`, in the language of each render.

    New-style gettext: `{{ _("Hello %(name)s", name=x) }}` formats after translating and escapes `x`; a literal
    percent sign is written `%%`."""
    for code in SUPPORTED:
        translations(code)  # a broken catalogue fails at start-up, not on a viewer's page
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]


def locale_of(request: Request, viewer: Any) -> str:
    """The language of a request: the session's saved choice, else the browser's Accept-Language."""
    chosen = getattr(viewer, "locale", None)
    if chosen in SUPPORTED:
        return chosen
    return negotiate(request.headers.get("accept-language"))


async def request_locale(request: Request) -> None:
    """A route dependency: the browser's language for the request's messages until a session says otherwise
    (auth.current_viewer). Async on purpose: a sync dependency runs in a thread, whose ContextVar is lost."""
    set_locale(negotiate(request.headers.get("accept-language")))
