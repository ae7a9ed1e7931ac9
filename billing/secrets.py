"""Encrypting processor secrets at rest (Fernet), with key rotation (MultiFernet).

`Cipher(keys)`: the first key encrypts, every key decrypts, so rotating is: put a new key first
in PAYDESK_ENCRYPTION_KEYS, keep the old ones after it, run `python manage.py rotate-keys`
(which re-encrypts every stored secret with the first key), then drop the old keys.
Plain values never leave this module except to the caller that asked for them; nothing here
logs. `mask` shows a secret as "sk_…••••1234" (its prefix and last four characters).
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretsUnavailable(Exception):
    """No encryption key is configured, or none of them opens a stored secret."""


class Cipher:
    def __init__(self, keys: Sequence[str]) -> None:
        self.keys = tuple(keys)
        self._fernet = MultiFernet([Fernet(k.encode()) for k in self.keys]) if self.keys else None

    @property
    def available(self) -> bool:
        return self._fernet is not None

    def _require(self) -> MultiFernet:
        if self._fernet is None:
            raise SecretsUnavailable(
                "Set PAYDESK_ENCRYPTION_KEYS to store processor secrets in the database."
            )
        return self._fernet

    def encrypt(self, plain: str) -> str:
        """A Fernet token (text) of `plain`, made with the first key."""
        return self._require().encrypt(plain.encode()).decode()

    def decrypt(self, token: str) -> str:
        """The plain text of a token made with any configured key; raises SecretsUnavailable."""
        try:
            return self._require().decrypt(token.encode()).decode()
        except InvalidToken:
            raise SecretsUnavailable(
                "A stored secret cannot be decrypted with PAYDESK_ENCRYPTION_KEYS "
                "(was a key removed before `manage.py rotate-keys` ran?)."
            ) from None

    def rotate(self, token: str) -> str:
        """The same secret re-encrypted with the first key."""
        try:
            return self._require().rotate(token.encode()).decode()
        except InvalidToken:
            raise SecretsUnavailable("A stored secret cannot be decrypted for rotation.") from None


def mask(secret: str | None) -> str:
    """'sk_…••••1234' — enough to recognise a key, never enough to use it."""
    if not secret:
        return ""
    prefix = secret.split("_", 1)[0] + "_" if "_" in secret[:8] else ""
    return f"{prefix}…••••{secret[-4:]}"
