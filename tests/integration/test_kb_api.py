"""The knowledge-base REST API as the admin pages use it, over real HTTP against real PostgreSQL."""

from pathlib import Path

import pytest

from tests.conftest import Session

pytestmark = pytest.mark.integration

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "kb.sample.json"


def test_import_upload_then_browse_edit_search(admin: Session) -> None:
    uploaded = admin.post(
        "/api/v1/kb/import", files={"file": ("kb.json", SAMPLE.read_bytes())}, data={"format": "json"}
    )
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["created"] == 6

    again = admin.post("/api/v1/kb/import", files={"file": ("kb.json", SAMPLE.read_bytes())})
    assert again.json()["unchanged"] == 6 and again.json()["created"] == 0

    categories = {c["slug"]: c["articles"] for c in admin.get("/api/v1/kb/categories").json()}
    assert categories["delivery"] == 2
    page = admin.get("/api/v1/kb/articles", params={"category": "delivery", "limit": 1}).json()
    assert page["total"] == 2 and len(page["items"]) == 1

    # Retrieval testing: a colloquial question finds the delivery article, with its passage.
    hits = admin.get("/api/v1/kb/search", params={"q": "скока стоит доставка по казани"}).json()
    assert hits and hits[0]["external_id"] == "d1" and 0 < hits[0]["score"] <= 1
    assert "400" in hits[0]["passage"] or "Казан" in hits[0]["passage"]

    # An edit is visible to search right away (the index follows the change counter).
    saved = admin.put(
        "/api/v1/kb/articles/x1",
        json={"title": "Прокат велосипедов", "text": "Даём велосипеды напрокат: 500 ₽ в час, 1500 ₽ в день.",
              "category": "products", "tags": ["прокат", "аренда"]},
    )  # fmt: skip
    assert saved.status_code == 200 and saved.json()["chunks"] >= 1
    import time

    time.sleep(1.1)
    hits = admin.get("/api/v1/kb/search", params={"q": "можно взять велик в аренду на день?"}).json()
    assert hits[0]["external_id"] == "x1"

    assert admin.delete("/api/v1/kb/articles/x1").status_code == 204
    assert admin.get("/api/v1/kb/articles/x1").status_code == 404
    stats = admin.get("/api/v1/kb/stats").json()
    assert stats["articles"] == 6 and stats["chunks"] >= 6


def test_bad_upload_is_rejected_whole_in_russian(admin: Session) -> None:
    broken = b'{"articles": [{"id": "a1", "title": "Ok", "text": "x"}, {"id": "a2", "title": 7, "text": "y"}]}'
    response = admin.post("/api/v1/kb/import", files={"file": ("kb.json", broken)})
    assert response.status_code == 400
    assert 'articles[1] (id "a2").title' in response.json()["error"] and "Исправьте" in response.json()["error"]
    assert admin.get("/api/v1/kb/stats").json()["articles"] == 0


def test_categories_and_synonyms_crud(admin: Session) -> None:
    created = admin.post("/api/v1/kb/categories", json={"slug": "service", "title": "Сервис"})
    assert created.status_code == 201
    assert (
        admin.patch("/api/v1/kb/categories/service", json={"title": "Ремонт", "position": 2}).json()["title"]
        == "Ремонт"
    )
    bad = admin.post("/api/v1/kb/categories", json={"slug": "Не slug", "title": "x"})
    assert bad.status_code == 400 and "Slug" in bad.json()["error"]
    assert admin.delete("/api/v1/kb/categories/service").status_code == 204
    assert admin.delete("/api/v1/kb/categories/service").status_code == 404

    assert admin.put("/api/v1/kb/synonyms/велик", json={"synonyms": ["велосипед"]}).json()["synonyms"] == ["велосипед"]
    assert [s["term"] for s in admin.get("/api/v1/kb/synonyms").json()] == ["велик"]
    assert admin.delete("/api/v1/kb/synonyms/велик").status_code == 204
