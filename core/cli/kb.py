"""`avibot kb …`: import, search, stats and re-embedding of the knowledge base."""

from __future__ import annotations

import json
from pathlib import Path

import click

from core.cli import fail, with_database
from core.cli.progress import Progress
from core.services import Services
from core.settings import Settings


@click.group()
def kb() -> None:
    """The knowledge base the bot answers from."""


@kb.command("import")
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "json", "yml"]),
    default="auto",
    show_default=True,
    help="File format; auto picks by the extension (.json, .yml/.xml).",
)
@click.option("--ocstore-dsn", help="Read an ocStore shop's database instead of a file: mysql://user:pass@host/db")
@click.option("--prefix", default="oc_", show_default=True, help="ocStore table prefix.")
@click.option("--replace", is_flag=True, help="Also delete articles of the same source that are not in this import.")
def import_(file: Path | None, fmt: str, ocstore_dsn: str | None, prefix: str, replace: bool) -> None:
    """Import FILE (JSON or an ocStore YML feed) or an ocStore database. Re-imports update by article id.

    Reports created / updated / unchanged / skipped; a bad file is rejected whole with the place at fault.
    """
    from core.kb.formats import format_of, parse_file
    from core.kb.models import KbImport

    if (file is None) == (ocstore_dsn is None):
        fail("give either FILE or --ocstore-dsn.")

    def load() -> KbImport:
        if ocstore_dsn:
            from core.kb.ocstore_db import read_database

            return read_database(ocstore_dsn, prefix=prefix)
        assert file is not None
        return parse_file(format_of(file) if fmt == "auto" else fmt, file.read_bytes())  # type: ignore[arg-type]

    async def run(services: Services, settings: Settings) -> None:
        from core import db
        from core.kb.search import embedder_for
        from core.kb.store import apply_import

        doc = load()
        pool = await db.create_pool(services.database_url, max_size=2)
        try:
            report = await apply_import(
                pool, doc, embedder=embedder_for(settings), replace=replace, progress=Progress("Embedding", "chunks")
            )
        finally:
            await pool.close()
        click.echo(
            f"{doc.source}: created {report.created}, updated {report.updated}, unchanged {report.unchanged}, "
            f"deleted {report.deleted}, skipped {len(report.skipped)}; new categories {report.categories_created}."
        )
        for skipped in report.skipped:
            click.echo(f"  skipped {skipped.external_id}: {skipped.reason}")

    with_database(run)


@kb.command()
@click.argument("query", required=False)
@click.option("--category", "categories", multiple=True, help="Only these category slugs (repeatable).")
@click.option("--item-title", help="The listing the question is asked under (its article is preferred).")
@click.option("--top", default=5, show_default=True, type=click.IntRange(1, 50))
@click.option("--json", "as_json", is_flag=True, help='One JSON array of {"external_id","title","score","passage"}.')
@click.option("--queries", type=click.File("r"), help="Answer one query per line, one JSON array per line.")
def search(
    query: str | None, categories: tuple[str, ...], item_title: str | None, top: int, as_json: bool, queries
) -> None:  # type: ignore[no-untyped-def]
    """Show the ranked articles for QUERY, with external ids, scores and the matched passages."""
    if (query is None) == (queries is None):
        fail("give either QUERY or --queries FILE.")

    async def run(services: Services, settings: Settings) -> None:
        from core import db
        from core.kb.search import KnowledgeBase, embedder_for

        pool = await db.create_pool(services.database_url, max_size=2)
        try:
            base = KnowledgeBase(pool, embedder_for(settings))
            lines = [query] if query is not None else [line.strip() for line in queries if line.strip()]
            for text in lines:
                hits = await base.search(text, top_k=top, categories=categories or None, item_title=item_title)
                rows = [
                    {"external_id": h.external_id, "title": h.title, "score": round(h.score, 4), "passage": h.passage}
                    for h in hits
                ]
                if as_json or queries is not None:
                    click.echo(json.dumps(rows, ensure_ascii=False))
                    continue
                if not rows:
                    click.echo("Nothing found.")
                for rank, row in enumerate(rows, 1):
                    click.echo(f"{rank}. [{row['external_id']}] {row['title']}  score {row['score']:.3f}")
                    click.echo(f"   {row['passage']}")
        finally:
            await pool.close()

    with_database(run)


@kb.command()
def stats() -> None:
    """Sizes of the knowledge base and which embedder made its vectors."""

    async def run(services: Services, settings: Settings) -> None:
        from core import db
        from core.kb.search import embedder_for
        from core.kb.store import stats as kb_stats

        conn = await db.connect(services.database_url)
        try:
            found = await kb_stats(conn)
        finally:
            await conn.close()
        click.echo(f"categories {found.categories}, articles {found.articles}, chunks {found.chunks} "
                   f"({found.embedded_chunks} with vectors), synonyms {found.synonyms}")  # fmt: skip
        for name, count in found.embedders.items():
            click.echo(f"  vectors by {name or '(none)'}: {count}")
        active = embedder_for(settings).name
        if found.chunks and found.embedders.get(active, 0) < found.chunks:
            click.echo(f"The active embedder is {active}: run `avibot kb reindex` to embed the rest.")

    with_database(run)


@kb.command()
def reindex() -> None:
    """(Re-)embed every chunk whose vector is missing or came from another embedder. Resumable."""

    async def run(services: Services, settings: Settings) -> None:
        from core import db
        from core.kb.search import embedder_for
        from core.kb.store import reindex as kb_reindex

        embedder = embedder_for(settings)
        pool = await db.create_pool(services.database_url, max_size=2)
        try:
            done = await kb_reindex(pool, embedder, progress=Progress(f"Embedding with {embedder.name}", "chunks"))
        finally:
            await pool.close()
        click.echo(f"Embedded {done} chunk(s) with {embedder.name}.")

    with_database(run)
