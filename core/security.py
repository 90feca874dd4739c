"""Password hashing (argon2id) and encryption of secrets at rest (Fernet, keyed from SECRET_KEY)."""

from __future__ import annotations

import base64
import hashlib

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken

from core.errors import ConfigError

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters

MIN_PASSWORD_LENGTH = 8


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password must be at least {MIN_PASSWORD_LENGTH} characters long")
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


class SecretBox:
    """Encrypts small secrets (Avito credentials, tokens) with a key derived from SECRET_KEY."""

    def __init__(self, secret_key: str) -> None:
        # Domain-separated so the same SECRET_KEY can also sign sessions without reusing key material.
        digest = hashlib.sha256(b"avibot/secret-box/v1:" + secret_key.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def encrypt(self, plaintext: bytes) -> bytes:
        return self._fernet.encrypt(plaintext)

    def decrypt(self, token: bytes) -> bytes:
        try:
            return self._fernet.decrypt(token)
        except InvalidToken:
            raise ConfigError(
                "Stored credentials cannot be decrypted: SECRET_KEY differs from the one they were saved with."
            ) from None
