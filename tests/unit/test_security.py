import pytest

from core.errors import ConfigError
from core.security import SecretBox, hash_password, verify_password


def test_password_hash_round_trip() -> None:
    hashed = hash_password("correct horse")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "correct horse")
    assert not verify_password(hashed, "correct horsE")
    assert not verify_password("not-a-hash", "correct horse")


def test_short_password_rejected() -> None:
    with pytest.raises(ValueError, match="at least 8"):
        hash_password("short")


def test_secret_box_round_trip_and_wrong_key() -> None:
    box = SecretBox("a" * 40)
    token = box.encrypt(b'{"client_secret": "s3cr3t"}')
    assert b"s3cr3t" not in token
    assert box.decrypt(token) == b'{"client_secret": "s3cr3t"}'
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        SecretBox("b" * 40).decrypt(token)
