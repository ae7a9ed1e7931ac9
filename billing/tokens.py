"""Random secrets handed to people (session cookies, emailed links) and the hashes we store.

Only SHA-256 hashes reach the database: a leaked table does not let anyone sign in. Tokens carry
256 bits of randomness, so a fast hash is the right tool (no need for a slow password hash).
"""

import hashlib
import secrets


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
