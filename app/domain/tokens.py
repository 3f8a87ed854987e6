"""API token material: random, shown once, stored as a SHA-256 digest.

Tokens carry 256 bits of randomness, so a fast digest is enough: there is no
password to guess, and lookups stay a single indexed equality.
"""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "pim_"


def generate_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """Any text has a digest, even one with a lone surrogate (a websocket's JSON can carry one, no issued token
    holds one): an unknown token, not an encoding fault."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def display_prefix(token: str) -> str:
    """What listings show so a person can tell tokens apart without the secret."""
    return token[: len(TOKEN_PREFIX) + 6]
