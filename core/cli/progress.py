"""The one progress display of the command line: ``progress(done, total)`` callbacks drawn on stderr, so stdout
stays clean for ``--json`` and pipes."""

from __future__ import annotations

import time

import click


class Progress:
    """``label``: what is being done («Embedding»); ``unit``: what is counted («chunks»). The total may be None
    until it is known (Avito's chat list tells it only on its last page). On a terminal the line is redrawn in
    place; otherwise (CI logs, pipes) one line is printed a second at most, and the last one always."""

    WIDTH = 30

    def __init__(self, label: str, unit: str = "") -> None:
        self.label = label
        self.unit = unit
        self.tty = click.get_text_stream("stderr").isatty()
        self.drawn = False
        self.printed_at = 0.0

    def __call__(self, done: int, total: int | None) -> None:
        unit = f" {self.unit}" if self.unit else ""
        if total:
            filled = min(self.WIDTH, self.WIDTH * done // total)
            line = f"{self.label} [{'#' * filled}{'.' * (self.WIDTH - filled)}] {done}/{total}{unit}"
        else:
            line = f"{self.label}: {done}{unit}…"
        if self.tty:
            click.echo(f"\r{line}", err=True, nl=False)
            self.drawn = True
            if total and done >= total:
                self.close()
        elif time.monotonic() - self.printed_at >= 1.0 or (total and done >= total):
            click.echo(line, err=True)
            self.printed_at = time.monotonic()

    def close(self) -> None:
        """Ends a redrawn line (call it when the work stops early, too)."""
        if self.drawn:
            click.echo("", err=True)
            self.drawn = False
