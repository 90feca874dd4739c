"""Each import source end to end: parsed, written to PostgreSQL, embedded, and found by search."""

import json
from pathlib import Path

import pytest

from tests.conftest import Session
from tests.integration.test_cli import env_for, run

pytestmark = pytest.mark.integration

OCSTORE = Path(__file__).resolve().parents[1] / "data" / "ocstore"


def test_yml_feed_upload_is_searchable(admin: Session) -> None:
    response = admin.post(
        "/api/v1/kb/import", files={"file": ("feed.yml", (OCSTORE / "feed.yml").read_bytes())}, data={"format": "yml"}
    )
    assert response.status_code == 201, response.text
    report = response.json()
    assert report["created"] == 6 and len(report["skipped"]) == 2
    article = admin.get("/api/v1/kb/articles/ocstore-product-101").json()
    assert article["source"] == "ocstore-yml" and "28 500 ₽" in article["text"] and article["chunks"] >= 1

    hits = admin.get("/api/v1/kb/search", params={"q": "стелс навигатор сколько стоит"}).json()
    assert hits[0]["external_id"] == "ocstore-product-101"

    # Re-uploading the same feed changes nothing.
    again = admin.post("/api/v1/kb/import", files={"file": ("feed.yml", (OCSTORE / "feed.yml").read_bytes())},
                       data={"format": "yml"}).json()  # fmt: skip
    assert again["created"] == 0 and again["unchanged"] == 6


@pytest.mark.slow
def test_ocstore_database_import_through_the_cli(tmp_path: Path, mariadb_dsn: str) -> None:
    env = env_for(tmp_path / "data")
    first = run(["kb", "import", "--ocstore-dsn", mariadb_dsn], env)
    assert first.returncode == 0, first.stderr
    assert "ocstore-db: created 9" in first.stdout and "skipped 1" in first.stdout
    assert mariadb_dsn.split("@")[0].split(":")[-1] not in first.stdout + first.stderr  # no password echoed

    again = run(["kb", "import", "--ocstore-dsn", mariadb_dsn, "--replace"], env)
    assert "created 0, updated 0, unchanged 9, deleted 0" in again.stdout

    found = json.loads(run(["kb", "search", "сколько стоит доставка по казани", "--json"], env).stdout)
    assert found[0]["external_id"] == "ocstore-info-6"
    found = json.loads(run(["kb", "search", "где вы находитесь", "--json", "--category", "pickup"], env).stdout)
    assert found[0]["external_id"] == "ocstore-info-9"
