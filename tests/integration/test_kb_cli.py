"""`avibot kb …` as an admin runs it, against embedded servers it starts for itself."""

import json
from pathlib import Path

import pytest

from tests.integration.test_cli import env_for, run

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "kb.sample.json"


def test_import_search_stats_reindex(tmp_path: Path) -> None:
    env = env_for(tmp_path / "data")
    imported = run(["kb", "import", str(SAMPLE)], env)
    assert imported.returncode == 0, imported.stderr
    assert "json: created 6, updated 0, unchanged 0" in imported.stdout

    again = run(["kb", "import", str(SAMPLE)], env)
    assert "created 0, updated 0, unchanged 6" in again.stdout

    found = run(["kb", "search", "где вы находитесь и до скольки открыты", "--json", "--top", "3"], env)
    assert found.returncode == 0, found.stderr
    rows = json.loads(found.stdout)
    assert [set(r) for r in rows] == [{"external_id", "title", "score", "passage"}] * 3
    assert rows[0]["external_id"] == "s1"

    queries = tmp_path / "queries.txt"
    queries.write_text("доставка в самару\nкартой можно?\n\n")
    batch = run(["kb", "search", "--queries", str(queries)], env)
    lines = [json.loads(line) for line in batch.stdout.splitlines()]
    assert [rows[0]["external_id"] for rows in lines] == ["d2", "p1"]

    only_payment = run(["kb", "search", "доставка", "--category", "payment", "--json"], env)
    assert {r["external_id"] for r in json.loads(only_payment.stdout)} == {"p1"}

    stats = run(["kb", "stats"], env)
    assert "articles 6" in stats.stdout and "vectors by use-multilingual-v3" in stats.stdout

    reindexed = run(["kb", "reindex"], env)
    assert reindexed.returncode == 0 and "Embedded 0 chunk(s)" in reindexed.stdout  # nothing stale


def test_bad_file_is_rejected_and_nothing_changes(tmp_path: Path) -> None:
    env = env_for(tmp_path / "data")
    bad = tmp_path / "bad.json"
    bad.write_text('{"articles": [{"id": "a", "title": "T", "text": "x", "category": "nowhere"}]}')
    result = run(["kb", "import", str(bad)], env)
    assert result.returncode == 1 and "nowhere" in result.stderr and "Traceback" not in result.stderr
    assert "articles 0" in run(["kb", "stats"], env).stdout
