"""Which Secret may hold a webhook's URL: the credentials opt-in, and no message quotes it."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelpipe.api.sources import SecretRef
from modelpipe.sources.credentials import (
    CREDENTIALS_LABEL,
    URL_PREFIXES_ANNOTATION,
    SecretView,
    lend_url,
)

REF = SecretRef("ml", "hooks")
URL = "https://hooks.example.com/services/T0/B0/very-secret-token"
OPTED_IN = {CREDENTIALS_LABEL: "true"}
PREFIX = {URL_PREFIXES_ANNOTATION: "https://hooks.example.com/services"}


def secret(labels: dict[str, str], annotations: dict[str, str], url: str = URL) -> SecretView:
    return SecretView(labels=labels, annotations=annotations, data={"url": url})


def test_an_opted_in_secret_covering_the_url_lends_it() -> None:
    assert lend_url(REF, secret(OPTED_IN, PREFIX), key="url") == (URL, None)


@pytest.mark.parametrize(
    ("found", "key", "problem"),
    [
        (None, "url", "Secret hooks not found"),
        (secret(OPTED_IN, PREFIX), "other", "Secret hooks has no key other"),
        (secret({}, PREFIX), "url", "is not opted in"),
        (secret({CREDENTIALS_LABEL: "yes"}, PREFIX), "url", "is not opted in"),
        (secret(OPTED_IN, {}), "url", "is not for this URL"),
        (
            secret(OPTED_IN, {URL_PREFIXES_ANNOTATION: "https://hooks.example.com/serv"}),
            "url",
            "is not for this URL",
        ),
        (secret(OPTED_IN, PREFIX, url="ftp://hooks.example.com/x"), "url", "http or https"),
        (secret(OPTED_IN, PREFIX, url="hunter2"), "url", "http or https"),
    ],
)
def test_anything_else_is_refused_in_the_operators_words(
    found: SecretView | None, key: str, problem: str
) -> None:
    url, message = lend_url(REF, found, key=key)
    assert url == "" and message is not None and problem in message
    assert "very-secret-token" not in message and "hunter2" not in message


# Upper case and digits: no run of 12 of them is in any of the operator's own messages.
TOKENS = st.text(alphabet=string.ascii_uppercase + string.digits, min_size=12, max_size=40)


@given(
    value=st.one_of(
        TOKENS,
        TOKENS.map(lambda t: f"https://hooks.example.com/{t}"),
        st.tuples(st.text(max_size=20), TOKENS).map("".join),
    ),
    labelled=st.booleans(),
    prefix=st.sampled_from(["", "https://hooks.example.com", "http://", "https://x"]),
)
def test_no_refusal_quotes_the_secrets_value(value: str, labelled: bool, prefix: str) -> None:
    found = SecretView(
        labels=OPTED_IN if labelled else {},
        annotations={URL_PREFIXES_ANNOTATION: prefix},
        data={"url": value},
    )
    url, message = lend_url(REF, found, key="url")
    if message is None:
        assert url == value.strip()
    else:
        assert url == ""
        token = value[-12:]
        assert token not in message
