"""`avibot replay`: recorded conversations through a scenario on Ray, with a report (see actors/replay.py)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import click

from core.cli import fail, with_database
from core.cli.progress import Progress
from core.errors import AvibotError
from core.services import Services
from core.settings import Settings


class _Moment(click.ParamType):
    """A date or an ISO date-time; without a UTC offset it is this machine's local time."""

    name = "DATE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            self.fail(f"нужна дата вида 2026-05-01 или 2026-05-01T10:00+03:00, а не «{value}»", param, ctx)
        return moment if moment.tzinfo is not None else moment.astimezone()


@click.command()
@click.option(
    "--scenario",
    "scenario_ref",
    required=True,
    metavar="REF",
    help="The scenario to replay: ID (its published version), ID@VERSION, or a scenario JSON file.",
)
@click.option(
    "--input",
    "input_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Conversations, one JSON object a line (the format of tests/data/conversations.sample.jsonl).",
)
@click.option("--from-db", is_flag=True, help="Replay the chats recorded in the database instead of --input.")
@click.option("--since", type=_Moment(), help="With --from-db: client messages written since this date.")
@click.option("--account", "account_id", type=int, help="With --from-db: only this account's chats (its id).")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for results.jsonl, summary.json and report.html (created if missing).",
)
@click.option(
    "--baseline",
    "baseline_ref",
    metavar="REF",
    help="Also replay this scenario and list every message whose intent, route, handoff or sources changed.",
)
@click.option(
    "--engine",
    type=click.Choice(["offline", "llm"]),
    default="offline",
    show_default=True,
    help="offline: local models, deterministic; llm: the models of the scenario's nodes (needs "
    "OPENROUTER_API_KEY), answers cached so a re-run is free.",
)
@click.option(
    "--address", help="Ray cluster to run on. Default: RAY_ADDRESS, the running avibot's Ray, else a local Ray."
)
@click.option("--workers", type=click.IntRange(min=1), help="Replay workers. Default: one per CPU of the cluster.")
@click.option(
    "--llm-cache",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where --engine llm keeps answers. Default: DATA_DIR/llm-cache (on a multi-node cluster: a "
    "directory every node shares).",
)
def replay(
    scenario_ref: str,
    input_path: Path | None,
    from_db: bool,
    since: datetime | None,
    account_id: int | None,
    out_dir: Path,
    baseline_ref: str | None,
    engine: str,
    address: str | None,
    workers: int | None,
    llm_cache: Path | None,
) -> None:
    """Replay recorded conversations through a scenario: one bot turn per client message, nothing is sent.

    \b
    Writes OUT/results.jsonl (one line per client message), OUT/summary.json and OUT/report.html;
    with --baseline also OUT/baseline.jsonl and the list of changed messages.
    """
    from actors.replay import load_conversations

    if (input_path is None) == (not from_db):
        fail("give either --input FILE or --from-db --since DATE (укажите --input или --from-db).")
    if from_db and since is None:
        fail("--from-db needs --since DATE (укажите --since).")
    if not from_db and (since is not None or account_id is not None):
        fail("--since and --account go with --from-db only.")
    conversations = None
    if input_path is not None:
        # Before any server starts: a bad file should fail in a second, naming its line.
        try:
            conversations = load_conversations(input_path)
        except AvibotError as exc:
            fail(str(exc))

    async def run(services: Services, settings: Settings) -> None:
        from actors import cluster
        from actors.replay import WorkerConfig, load_recorded, load_scenario, scenario_bytes, turns_of
        from actors.replay import replay as run_replay
        from core import db
        from core.scenarios import seed_default

        if engine == "llm" and not settings.openrouter_api_key:
            fail("--engine llm needs OPENROUTER_API_KEY (and LLM_BASE_URL for an endpoint other than OpenRouter).")
        pool = await db.create_pool(services.database_url, max_size=2)
        try:
            await seed_default(pool)  # as `avibot up` does: "default" exists on any database
            scenario = await load_scenario(pool, scenario_ref)
            baseline = await load_scenario(pool, baseline_ref) if baseline_ref else None
            articles = await pool.fetchval(db.queries.kb_article_count)
            chats = conversations
            if chats is None:
                assert since is not None  # checked above
                async with pool.acquire() as conn:
                    chats = await load_recorded(conn, since, account_id)
        finally:
            await pool.close()
        if not articles:
            warning = "The knowledge base is empty: every question will go to a manager (база знаний пуста)."
            click.secho(warning, fg="yellow", err=True)
        if input_path is not None:
            source = str(input_path)
        else:
            assert since is not None
            source = f"db: since {since.isoformat()}" + (f", account {account_id}" if account_id is not None else "")
        config = WorkerConfig(
            database_url=services.database_url,
            scenario=scenario_bytes(scenario),
            baseline=scenario_bytes(baseline) if baseline is not None else None,
            engine=engine,  # type: ignore[arg-type]
            llm_base_url=settings.llm_base_url,
            openrouter_api_key=settings.openrouter_api_key,
            public_url=settings.public_url,
            llm_cache=str((llm_cache or settings.data_dir / "llm-cache").resolve()),
            embeddings_base_url=settings.embeddings_base_url,
            embeddings_model=settings.embeddings_model,
            embeddings_api_key=settings.embeddings_api_key,
        )
        turns = sum(len(turns_of(c)) for c in chats)
        if not turns:
            fail(f"nothing to replay: no client message with text in {source} (нет сообщений покупателей).")
        against = f" against {baseline.id}@{baseline.version}" if baseline is not None else ""
        click.echo(
            f"Replaying {len(chats)} conversation(s), {turns} client message(s) through "
            f"{scenario.id}@{scenario.version}{against} ({engine}).",
            err=True,
        )
        cluster.start(address or services.ray_address)
        try:
            progress = Progress("Replaying", "conversations")
            outcome = run_replay(chats, config, out_dir, source=source, workers=workers, progress=progress)
        finally:
            cluster.stop()
        summary = outcome.summary
        routes = ", ".join(f"{route} {rate * 100:.1f} %" for route, rate in summary["route_rates"].items())
        click.echo(
            f"{summary['counts']['turns']} message(s) of {summary['counts']['conversations']} conversation(s) on "
            f"{summary['run']['workers']} worker(s) in {summary['run']['run_s']} s: handoff "
            f"{summary['handoff_rate'] * 100:.1f} %; {routes}."
        )
        if "baseline_diff" in summary:
            click.echo(f"Changed against {summary['baseline']}: {summary['baseline_diff']['changed']} message(s).")
        expectations = summary["expectations"]
        if expectations["checked"]:
            click.echo(f"Expectations met: {expectations['met']} of {expectations['checked']}.")
        click.echo("Wrote " + ", ".join(str(p) for p in outcome.files))

    with_database(run)
