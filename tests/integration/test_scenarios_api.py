"""Scenarios over REST: palette, drafts with problems, publishing immutable versions, the Workflow Tester stream."""

import copy
import json
from pathlib import Path

import asyncpg
import pytest

from core.scenarios import seed_default
from core.store.users import create_user
from tests.conftest import AppServer, Session

pytestmark = pytest.mark.integration

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "kb.sample.json"


@pytest.fixture
async def seeded(admin: Session, pool: asyncpg.Pool) -> Session:
    assert await seed_default(pool)
    assert not await seed_default(pool)  # once
    assert admin.post("/api/v1/kb/import", files={"file": ("kb.json", SAMPLE.read_bytes())}).status_code == 201
    return admin


def test_palette_lists_the_nine_node_types(seeded: Session) -> None:
    palette = seeded.get("/api/v1/node-types").json()
    assert [c["id"] for c in palette["categories"]] == ["flow", "understanding", "knowledge", "reply"]
    types = palette["node_types"]
    assert {t["type"] for t in types} == {
        "start", "intent", "confidence", "context", "search", "ai_response", "condition", "handoff", "end"
    }  # fmt: skip
    confidence = next(t for t in types if t["type"] == "confidence")
    assert confidence["title"] == "Уверенность" and [o["id"] for o in confidence["outputs"]][:2] == [
        "answer",
        "clarify",
    ]
    assert "schema" in json.dumps(confidence)


def test_draft_problems_block_publishing_and_versions_are_immutable(seeded: Session) -> None:
    listed = seeded.get("/api/v1/scenarios").json()
    assert [(s["id"], s["published_version"], s["versions"]) for s in listed] == [("default", 1, 1)]
    draft = seeded.get("/api/v1/scenarios/default").json()
    assert draft["problems"] == []

    broken = copy.deepcopy(draft["scenario"])
    broken["edges"] = [e for e in broken["edges"] if e["target"] != "done"]
    saved = seeded.put("/api/v1/scenarios/default", json=broken)
    assert saved.status_code == 200 and saved.json()["problems"]  # saved anyway, problems shown
    refused = seeded.post("/api/v1/scenarios/default/publish", json={"note": "сломанный"})
    assert refused.status_code == 400 and "Сценарий содержит ошибки" in refused.json()["error"]

    fixed = copy.deepcopy(draft["scenario"])
    for node in fixed["nodes"]:
        if node["type"] == "confidence":
            node["data"] = {**node.get("data", {}), "answer_threshold": 0.7}
    assert seeded.put("/api/v1/scenarios/default", json=fixed).json()["problems"] == []
    published = seeded.post("/api/v1/scenarios/default/publish", json={"note": "порог 0.7"})
    assert published.status_code == 201 and published.json()["scenario"]["version"] == 2
    assert [v["version"] for v in seeded.get("/api/v1/scenarios/default/versions").json()] == [2, 1]
    first = seeded.get("/api/v1/scenarios/default/versions/1").json()
    confidence = next(n for n in first["nodes"] if n["type"] == "confidence")
    assert confidence["data"].get("answer_threshold") != 0.7  # version 1 is frozen
    assert seeded.get("/api/v1/scenarios/default/versions/9").status_code == 404


def test_workflow_tester_streams_the_trace(seeded: Session) -> None:
    body = {
        "messages": [
            {"author": "client", "text": "Здравствуйте"},
            {"author": "bot", "text": "Здравствуйте! Чем могу помочь?"},
            {"author": "client", "text": "скока стоит доставка по казани"},
        ],
        "item": {"id": 4100000001, "title": "Горный велосипед Stels Navigator 700", "price": 28500},
    }
    response = seeded.post("/api/v1/scenarios/default/test", json=body)
    assert response.status_code == 201 and response.headers["content-type"].startswith("application/x-ndjson")
    events = [json.loads(line) for line in response.text.splitlines()]
    nodes, result = events[:-1], events[-1]
    assert all(e["event"] == "node" for e in nodes) and result["event"] == "result"
    assert [e["node"] for e in nodes][:3] == ["start", "intent", "confidence"]
    assert next(e for e in nodes if e["node"] == "confidence")["branch"] == "answer"
    assert next(e for e in nodes if e["type"] == "search")["output"]["documents"][0]["external_id"] == "d1"
    assert "400 ₽" in result["reply"] and result["handoff"] is False and result["engine"] == "offline"
    assert result["scenario"] == "default@1"

    # An unsaved draft from the editor runs as sent; a broken one is refused before anything streams.
    draft = seeded.get("/api/v1/scenarios/default").json()["scenario"]
    draft["edges"] = [e for e in draft["edges"] if e["target"] != "done"]
    refused = seeded.post("/api/v1/scenarios/default/test", json={**body, "draft": draft})
    assert refused.status_code == 400
    no_key = seeded.post("/api/v1/scenarios/default/test", json={**body, "engine": "llm"})
    assert no_key.status_code == 400 and "OPENROUTER_API_KEY" in no_key.json()["error"]
    empty = seeded.post("/api/v1/scenarios/default/test", json={"messages": [{"author": "bot", "text": "Привет"}]})
    assert empty.status_code == 400 and "сообщение покупателя" in empty.json()["error"]


async def test_operators_cannot_edit_scenarios(app_server: AppServer, pool: asyncpg.Pool) -> None:
    await create_user(pool, "olga", "olga-password", "operator")
    operator = Session(app_server, "olga", "olga-password")
    assert operator.get("/api/v1/scenarios").status_code == 403
    assert operator.post("/api/v1/scenarios/default/test", json={"messages": []}).status_code == 403
    operator.client.close()
