"""Identity's rules that need no I/O."""

from __future__ import annotations

import asyncio

import pytest

from services.identity.domain import accounts, tokens
from services.identity.domain.passwords import PasswordHasher
from services.kit.errors import DomainError


def test_slugs_are_ascii_and_bounded() -> None:
    assert accounts.slugify("Padaria Pão & Café!") == "padaria-pao-cafe"
    assert accounts.slugify("日本") == "workspace"
    assert len(accounts.slugify("x" * 200)) <= 40


def test_tokens_parse_and_match() -> None:
    secret = tokens.new_secret()
    rendered = tokens.render(42, secret.plain)
    assert tokens.parse(rendered) == (42, secret.plain)
    assert tokens.matches(secret.plain, secret.digest)
    assert not tokens.matches(secret.plain + "x", secret.digest)
    for bad in ("", "42", "|abc", "x|abc", "42|", "1" * 19 + "|abc"):
        assert tokens.parse(bad) is None, bad


def test_passwords_verify_with_their_own_parameters() -> None:
    async def run() -> None:
        fast = PasswordHasher(n=2**10)
        stored = await fast.hash("correct horse")
        assert stored.startswith("scrypt$1024$8$1$")
        stronger = PasswordHasher(n=2**12)  # a later, stronger default still checks old hashes
        assert await stronger.verify("correct horse", stored)
        assert not await stronger.verify("wrong horse", stored)
        assert not await stronger.verify("correct horse", "md5$abc")

    asyncio.run(run())


def test_registration_normalises_and_collects_every_problem() -> None:
    form = accounts.check_registration(
        name=" Ana ",
        email="ana@example.com",
        password="long-enough",
        password_confirmation="long-enough",
        company_name="Ana Co",
        country_code="pt",
        timezone="Europe/Lisbon",
        locale=None,
        tax_id="",
    )
    assert (form.name, form.country_code, form.locale, form.tax_id) == ("Ana", "PT", "en", None)
    with pytest.raises(DomainError) as refused:
        accounts.check_registration(
            name="",
            email="nope",
            password="short",
            password_confirmation="short",
            company_name="x" * 300,
            country_code="ZZ",
            timezone="Europe/Atlantis",
            locale="pt_BR!",
            tax_id=None,
        )
    fields = [f.field for f in refused.value.fields]
    assert fields == [
        "name",
        "email",
        "company_name",
        "country_code",
        "timezone",
        "locale",
        "password",
    ]
