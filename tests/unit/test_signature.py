"""Webhook signatures: hex HMAC-SHA256 of the raw body, compared case-insensitively.

The reference vector is fivetran.md §7: secret ``example-webhook-secret``, body = the one-line
success sample of §6.4 (265 bytes, no trailing newline).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.platform.errors import SignatureError
from chalicelib.webhook.signature import SIGNATURE_HEADER, sign, verify
from tests.hypothesis_profiles import examples

SECRET = "example-webhook-secret"
BODY = (
    b'{"event":"sync_end","created":"2026-01-15T10:30:00.386Z","connector_type":"postgres",'
    b'"connector_id":"decent_dropsy","connector_name":"pg_prod",'
    b'"sync_id":"0f3c9a5e-2b7d-4c1e-9a8f-5d6e7f8a9b0c","destination_group_id":"projected_sickle",'
    b'"data":{"status":"SUCCESSFUL"}}'
)
VECTOR = "e1b973905a6c13a0b47ff382d88de9c69ba00ae3afccefcadd2b6e326f07a4ce"


def test_the_reference_body_is_the_265_byte_sample():
    assert len(BODY) == 265
    assert not BODY.endswith(b"\n")


def test_sign_produces_the_reference_vector_in_lower_case():
    assert sign(BODY, SECRET) == VECTOR


def test_signature_header_name_is_fivetrans():
    assert SIGNATURE_HEADER == "X-Fivetran-Signature-256"


@pytest.mark.parametrize(
    "header",
    [
        VECTOR,
        VECTOR.upper(),
        VECTOR[:32] + VECTOR[32:].upper(),
        f"  {VECTOR}  ",
        f"\t{VECTOR.upper()}\n",
    ],
    ids=["lower", "upper", "mixed", "spaces", "tab-and-newline"],
)
def test_signature_matches_the_reference_vector_in_any_case_and_surrounding_whitespace(header):
    verify(BODY, header, SECRET)  # no exception


@pytest.mark.parametrize(
    "body",
    [
        BODY + b"\n",  # a capture tool's trailing newline
        BODY.replace(b"SUCCESSFUL", b"FAILURE"),
        BODY.replace(b"decent_dropsy", b"decent_dropsz"),
        b" " + BODY,
        b"",
    ],
    ids=["trailing-newline", "status-changed", "one-char-changed", "leading-space", "empty"],
)
def test_a_tampered_body_does_not_verify(body):
    with pytest.raises(SignatureError, match="does not match"):
        verify(body, VECTOR, SECRET)


def test_the_right_signature_under_a_wrong_secret_does_not_verify():
    with pytest.raises(SignatureError):
        verify(BODY, VECTOR, "another-secret")
    with pytest.raises(SignatureError):
        verify(BODY, sign(BODY, "another-secret"), SECRET)


@pytest.mark.parametrize("header", [None, "", "   ", "\t\n"], ids=["missing", "empty", "spaces", "blank"])
def test_a_missing_or_empty_header_is_refused_naming_the_header(header):
    with pytest.raises(SignatureError, match=SIGNATURE_HEADER):
        verify(BODY, header, SECRET)


@pytest.mark.parametrize(
    "header",
    [
        "z" * 64,
        "not-a-signature",
        "sha256=" + VECTOR,
        VECTOR[:-1],
        VECTOR + "0",
        "é" * 64,
        "\uff25" + VECTOR[1:],  # full-width E: not ASCII hex
        "\u2603" + VECTOR[1:],
        "\udcff" * 64,  # a lone surrogate, as a server decoding bytes with surrogateescape may hand over
        "\x00" * 64,
    ],
    ids=[
        "non-hex",
        "word",
        "prefixed",
        "one-short",
        "one-long",
        "non-ascii",
        "full-width",
        "snowman",
        "surrogate",
        "nul",
    ],
)
def test_non_hex_and_non_ascii_headers_raise_signature_error_and_nothing_else(header):
    with pytest.raises(SignatureError):
        verify(BODY, header, SECRET)


@pytest.mark.parametrize("secret", ["", None])
def test_no_configured_secret_refuses_every_delivery(secret):
    with pytest.raises(SignatureError, match="no webhook secret"):
        verify(BODY, VECTOR, secret)


@settings(max_examples=examples(150))
@given(body=st.binary(max_size=512), secret=st.text(min_size=1, max_size=40))
def test_any_body_verifies_with_its_own_signature_in_either_case(body, secret):
    signature = sign(body, secret)
    verify(body, signature, secret)
    verify(body, signature.upper(), secret)


@settings(max_examples=examples(300))
@given(header=st.text(max_size=80))
def test_an_arbitrary_header_value_either_verifies_or_raises_signature_error(header):
    try:
        verify(BODY, header, SECRET)
    except SignatureError:
        return
    assert header.strip().lower() == VECTOR
