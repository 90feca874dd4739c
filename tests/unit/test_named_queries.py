import pytest

from core.db import load_queries, parse_queries


def test_parse_named_queries() -> None:
    text = """
-- name: first
-- What the first one does.
SELECT 1;

-- name: second
-- The second.
SELECT 2
FROM t;
"""
    assert parse_queries(text, "x.sql") == {"first": "SELECT 1;", "second": "SELECT 2\nFROM t;"}


def test_duplicate_and_empty_queries_are_errors() -> None:
    with pytest.raises(ValueError, match="defined twice"):
        parse_queries("-- name: a\nSELECT 1;\n-- name: a\nSELECT 2;", "x.sql")
    with pytest.raises(ValueError, match="no SQL"):
        parse_queries("-- name: a\n-- only a comment\n", "x.sql")


def test_unknown_query_name_fails_loudly() -> None:
    queries = load_queries()
    assert "get_user_by_login" in queries.names()
    with pytest.raises(AttributeError, match="no SQL query named"):
        _ = queries.no_such_query
