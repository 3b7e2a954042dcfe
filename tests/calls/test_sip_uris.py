"""Contract mismatches found from outside in app/calls/sipmsg.py: a From/To with a display name
gave the name instead of the URI (the call list's `from`, ?q=<from URI>)."""

from __future__ import annotations

import pytest

from app.calls.sipmsg import uri_of


@pytest.mark.parametrize(
    ("value", "uri"),
    [
        ('"Alice" <sip:alice@example.com>;tag=ft1', "sip:alice@example.com"),
        ("Alice <sip:alice@example.com>;tag=ft1", "sip:alice@example.com"),
        ('"Zoë Ångström 山田" <sip:zoe@example.com>;tag=1', "sip:zoe@example.com"),
    ],
)
def test_uri_of_a_from_with_a_display_name_is_the_uri_not_the_name(value: str, uri: str) -> None:
    assert uri_of(value) == uri


def test_uri_of_a_from_without_a_display_name_is_its_uri() -> None:
    assert uri_of("<sip:1003@example.com>;tag=809f") == "sip:1003@example.com"
    assert uri_of("sip:1003@example.com;tag=809f") == "sip:1003@example.com"
