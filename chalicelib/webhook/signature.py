"""Fivetran webhook signatures: hex HMAC-SHA256 of the raw body, keyed by the webhook secret.

Fivetran sends the digest in ``X-Fivetran-Signature-256`` with no prefix and no timestamp.
Sources disagree on the hex case, so both sides are lower-cased before a constant-time compare.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from chalicelib.platform.errors import SignatureError

__all__ = ["SIGNATURE_HEADER", "sign", "verify", "verify_any"]

SIGNATURE_HEADER = "X-Fivetran-Signature-256"


def sign(body: bytes, secret: str) -> str:
    """Return the lower-case hex signature Fivetran would send for ``body``."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(body: bytes, signature: str | None, secret: str) -> None:
    """Raise ``SignatureError`` unless ``signature`` is the HMAC of ``body`` under ``secret``."""
    if not secret:
        raise SignatureError("no webhook secret is configured; refusing every delivery")
    if signature is None or not signature.strip():
        raise SignatureError(f"missing {SIGNATURE_HEADER} header")
    expected = sign(body, secret)
    received = signature.strip().lower()
    # compare_digest on ASCII bytes: constant time, and no TypeError on non-ASCII input.
    if not hmac.compare_digest(expected.encode("ascii"), received.encode("utf-8", "replace")):
        raise SignatureError(f"{SIGNATURE_HEADER} does not match the body")


def verify_any(body: bytes, signature: str | None, secrets: Iterable[str]) -> int:
    """Which of ``secrets`` (tried in order) signed ``body``: its index. Raise ``SignatureError`` if none.

    During a secret rotation the route accepts the current and the previous secret; ``secrets`` may be
    lazy, so the previous one is only read when the current one does not match.
    """
    if signature is None or not signature.strip():
        raise SignatureError(f"missing {SIGNATURE_HEADER} header")
    tried = 0
    for index, secret in enumerate(secrets):
        tried += 1
        try:
            verify(body, signature, secret)
        except SignatureError:
            continue
        return index
    if not tried:
        raise SignatureError("no webhook secret is configured; refusing every delivery")
    raise SignatureError(f"{SIGNATURE_HEADER} does not match the body")
