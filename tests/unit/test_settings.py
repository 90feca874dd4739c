from pathlib import Path

import pytest

from core.errors import ConfigError
from core.settings import Settings, describe, from_environ


def load(tmp_path: Path, **env: str) -> Settings:
    return from_environ({"DATA_DIR": str(tmp_path / "data"), **env}, env_file=None)


def test_defaults(tmp_path: Path) -> None:
    settings = load(tmp_path)
    assert settings.database_url is None and settings.redis_url is None
    assert settings.port == 8000 and settings.host == "127.0.0.1"
    assert settings.data_dir == (tmp_path / "data").resolve() and settings.data_dir.is_dir()
    assert settings.base_url == "http://127.0.0.1:8000"


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"DATABASE_URL": "mysql://x@localhost/db"}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgresql://:5432/db"}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgresql://h:notaport/db"}, "DATABASE_URL"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL"),
        ({"PORT": "eighty"}, "PORT"),
        ({"PORT": "70000"}, "PORT"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"PUBLIC_URL": "ftp://example"}, "PUBLIC_URL"),
        ({"EMBEDDINGS_BASE_URL": "http://127.0.0.1:9/v1"}, "EMBEDDINGS_MODEL"),
    ],
)
def test_invalid_values_name_the_variable(tmp_path: Path, env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        load(tmp_path, **env)


def test_unwritable_data_dir(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(ConfigError, match=r"DATA_DIR .* cannot be written"):
        from_environ({"DATA_DIR": str(blocker / "data")}, env_file=None)


def test_env_file_is_read_and_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("PORT=9001\nHOST=0.0.0.0\n")
    settings = from_environ({"DATA_DIR": str(tmp_path / "d"), "PORT": "9002"}, env_file=env_file)
    assert settings.port == 9002 and settings.host == "0.0.0.0"


def test_generated_secret_is_kept(tmp_path: Path) -> None:
    settings = load(tmp_path)
    first = settings.secret()
    assert len(first) >= 32
    assert load(tmp_path).secret() == first
    assert (settings.data_dir / "secret_key").stat().st_mode & 0o777 == 0o600


def test_every_setting_is_documented() -> None:
    names = [name for name, doc in describe() if doc]
    assert len(names) == len(describe())
    for expected in ("DATABASE_URL", "REDIS_URL", "RAY_ADDRESS", "OPENROUTER_API_KEY", "SECRET_KEY", "DATA_DIR"):
        assert expected in names
