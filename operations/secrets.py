"""Encryption at rest for the secrets deployment targets need (API tokens, signing secrets).

Fernet (AES-128-CBC + HMAC-SHA256) with ``settings.PROPYLON_SECRET_KEYS``: the first key
encrypts, every listed key decrypts (MultiFernet), so a key is rotated by putting the new one
first, re-encrypting (``propylon rotate_secrets``), then removing the old one. Without configured
keys a single key is derived from ``SECRET_KEY``.
"""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class SecretUnreadable(Exception):
    """The stored secret was encrypted with a key no longer configured."""


def _keys() -> list[bytes]:
    configured = [key.strip() for key in settings.PROPYLON_SECRET_KEYS if key.strip()]
    if configured:
        return [key.encode() for key in configured]
    derived = hashlib.sha256(b"propylon-secrets:" + settings.SECRET_KEY.encode()).digest()
    return [base64.urlsafe_b64encode(derived)]


def _fernet() -> MultiFernet:
    try:
        return MultiFernet([Fernet(key) for key in _keys()])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "PROPYLON_SECRET_KEYS must list Fernet keys (32 url-safe base64-encoded bytes each; "
            "generate one with: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())')."
        ) from exc


def encrypt(plaintext: str) -> str:
    if not plaintext:
        return ""
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    if not ciphertext:
        return ""
    try:
        return _fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable(
            "A stored secret cannot be decrypted with the configured PROPYLON_SECRET_KEYS: "
            "the key that encrypted it was removed. Restore it, or enter the secret again."
        ) from exc


def reencrypt(ciphertext: str) -> str:
    """The same secret under the first (newest) key."""
    if not ciphertext:
        return ""
    return _fernet().rotate(ciphertext.encode()).decode()
