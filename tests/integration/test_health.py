import pytest

from api.app import create_app
from core.embedded import free_port
from core.services import Services
from core.settings import Settings
from tests.conftest import AppServer

pytestmark = pytest.mark.integration


def test_healthz_reports_every_service(ray_cluster: str, app_server: AppServer) -> None:
    with app_server.client() as client:
        response = client.get("/healthz")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "ok"
        assert body["postgres"]["ok"] and body["postgres"]["version"].startswith("18")
        assert body["redis"]["ok"]
        assert body["ray"]["ok"] and body["ray"]["nodes"] >= 1
        assert client.get("/schema/openapi.json").json()["info"]["title"] == "avibot"


def test_healthz_is_503_when_redis_is_down(ray_cluster: str, settings: Settings, database_url: str) -> None:
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    app = create_app(settings, Services(database_url, dead_redis))
    with AppServer(app, settings.port) as server, server.client() as client:
        response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded" and not body["redis"]["ok"] and body["postgres"]["ok"]
    assert "Connection" in body["redis"]["error"]
