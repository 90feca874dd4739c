from pathlib import Path

import pytest

from core.errors import InvalidInput
from core.kb.json_import import parse_json

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "kb.sample.json"
DEMO = Path(__file__).resolve().parents[2] / "core" / "demo" / "kb.json"


def test_sample_file_parses() -> None:
    doc = parse_json(SAMPLE.read_bytes())
    assert doc.source == "json"
    assert [c.slug for c in doc.categories] == ["delivery", "payment", "returns", "products", "pickup"]
    g1 = next(a for a in doc.articles if a.external_id == "g1")
    assert g1.category == "products" and "28 500" in g1.text and "stels" in g1.tags


def test_demo_knowledge_base_is_large_enough() -> None:
    doc = parse_json(DEMO.read_bytes())
    assert len(doc.articles) >= 40
    assert {a.category for a in doc.articles} <= {c.slug for c in doc.categories}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"articles": [\n  {"id": "a1", "title": "x",\n   "text": }]}', "строка 3, столбец 12"),
        (b'{"articles": [{"id": "a1", "title": "T", "text": "x"}, {"id": "a2", "title": 5, "text": "y"}]}',
         'articles[1] (id "a2").title'),
        (b'{"articles": [{"id": "a1", "title": "T"}]}', 'articles[0] (id "a1")'),
        (b'{"articles": [{"id": "a1", "title": "T", "text": "x"}, {"id": "a1", "title": "U", "text": "y"}]}',
         "встречается дважды"),
        (b'{"articles": [{"id": "a1", "title": "T", "text": "   "}]}', "пустой текст"),
        (b'{"categories": [{"slug": "Bad Slug", "title": "x"}], "articles": []}', 'categories[0] (slug "Bad Slug")'),
        (b'{"categories": [{"slug": "a", "title": "x", "colour": 1}], "articles": []}', "colour"),
        (b"[1, 2]", "JSON-объект"),
    ],
)  # fmt: skip
def test_bad_files_name_the_place_at_fault(data: bytes, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_json(data)
    assert message in str(caught.value)
