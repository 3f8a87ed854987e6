"""Locale codes, parsed and described with Babel (CLDR), and the fallback chain.

Codes are compared in their canonical form (`en-US`, `en_us` and `en_US` are
one locale: CLDR's identifier). A code is taken as given, else as CLDR spells
the same locale: deprecated codes replaced (`iw` -> `he`, `sr_Latn_CS` ->
`sr_Latn_RS`) and the script the locale is written in stated (`zh_TW` ->
`zh_Hant_TW`, as Akeneo and Shopify spell Traditional Chinese) or, being the
usual one, left out (`ha_Latn_NG` -> `ha_NG`). Nothing else is guessed:
Babel's `Locale.parse` would turn an unknown territory into a likely one
(`en_ZZ` -> `en_US`) or lose a script (`sr_Latn_CS` -> `sr_Cyrl_RS`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.core import get_global, parse_locale

from app.domain.storable import echoed


class InvalidLocaleCode(ValueError):
    """The code is not a locale CLDR knows."""


@dataclass(frozen=True, slots=True)
class LocaleInfo:
    """A locale as users see it: canonical code, names from CLDR, writing direction."""

    code: str
    name: str
    native_name: str
    rtl: bool


@lru_cache(maxsize=4096)
def canonical_locale(code: str) -> str:
    """The canonical POSIX-style code (`en_US`) of `code`, or InvalidLocaleCode."""
    return str(_parse(code))


_Parts = tuple[str, str | None, str | None, str | None]
"""language, territory, script, variant"""


def _parse(code: str) -> Locale:
    cleaned = code.strip().replace("-", "_")
    if not cleaned:
        raise InvalidLocaleCode("a locale code cannot be empty")
    unknown = InvalidLocaleCode(f"'{echoed(code)}' is not a known locale code")
    try:
        language, territory, script, variant, *modifier = parse_locale(cleaned)
    except ValueError as exc:
        raise unknown from exc
    if modifier or language == "root":  # not CLDR locales: `sr_RS@latin` is not `sr_RS`, root is no language
        raise unknown
    for parts in _spellings((language, territory, script, variant)):
        try:
            return Locale(*parts)
        except (ValueError, UnknownLocaleError):
            continue
    raise unknown


def _spellings(parts: _Parts) -> Iterator[_Parts]:
    """The code as given, then CLDR's spellings of the same locale (module docstring): each keeps the language,
    territory and script the code names, so a locale CLDR does not know is refused, never swapped for another."""
    yield parts
    language, territory, script, variant = _replace_deprecated(parts)
    yield language, territory, script, variant
    likely = _script("_".join(part for part in (language, territory) if part))
    if script is None and likely is not None:
        yield language, territory, likely, variant
    elif script is not None and script == likely:
        yield language, territory, None, variant


def _replace_deprecated(parts: _Parts) -> _Parts:
    """CLDR's replacements for deprecated codes; a part the code names wins over one the alias brings
    (`sh_BA` -> `sr_Latn_BA`). A territory that split (CS: RS, ME) becomes the one the language is likely in."""
    language, territory, script, variant = parts
    alias = get_global("language_aliases").get(language)
    if alias is not None:
        alias_language, alias_territory, alias_script = parse_locale(alias)[:3]
        language, territory, script = alias_language, territory or alias_territory, script or alias_script
    if territory is not None:
        replacements: list[str] = get_global("territory_aliases").get(territory, [territory])
        likely_territory = parse_locale(get_global("likely_subtags").get(language, language))[1]
        territory = likely_territory if likely_territory in replacements else replacements[0]
    script = get_global("script_aliases").get(script or "", script)
    return language, territory, script, variant


@lru_cache(maxsize=1024)
def describe_locale(code: str) -> LocaleInfo:
    locale = _parse(code)
    return LocaleInfo(
        code=str(locale),
        name=locale.english_name or str(locale),
        native_name=locale.display_name or str(locale),
        rtl=locale.text_direction == "rtl",
    )


def _cldr_parent(code: str) -> str | None:
    """CLDR's parent locale (es_MX -> es_419 -> es; zh_Hant_TW -> zh_Hant -> root), or None at the root.

    Babel's parent_exceptions leave out CLDR's parentLocales that end at root: a locale written in another
    script than its language's likely one (zh_Hant, sr_Latn, and zh_TW, which is zh_Hant_TW) inherits from
    root, never from the bare language, which is written in that other script (zh: Simplified, sr: Cyrillic).
    """
    exceptions: Mapping[str, str] = get_global("parent_exceptions")
    if code in exceptions:
        parent = exceptions[code]
        return None if parent == "root" else parent
    head, sep, _ = code.rpartition("_")
    if not sep:
        return None
    script, head_script = _script(code), _script(head)
    if script is not None and head_script is not None and script != head_script:
        return None
    return head


@lru_cache(maxsize=1024)
def _script(code: str) -> str | None:
    """The script `code` is written in: the one it names, else the likely one for it or its language (CLDR)."""
    language, territory, script = parse_locale(code)[:3]
    if script:
        return script
    likely: Mapping[str, str] = get_global("likely_subtags")
    for key in (f"{language}_{territory}" if territory else None, language):
        if key is not None and key in likely:
            return parse_locale(likely[key])[2]
    return None


@lru_cache(maxsize=4096)
def locale_chain(code: str, default_locale: str | None) -> tuple[str, ...]:
    """Where a value for `code` is looked for, in order: itself, its CLDR parents, the default.

    ar_AE -> ar -> (default locale); the default is appended once, last.
    """
    chain: list[str] = []
    current: str | None = canonical_locale(code)
    while current is not None and current not in chain:
        chain.append(current)
        current = _cldr_parent(current)
    if default_locale and default_locale not in chain:
        chain.append(default_locale)
    return tuple(chain)
