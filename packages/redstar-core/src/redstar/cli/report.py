"""``redstar report``: rebuild a run directory's report."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from redstar.errors import RedStarError
from redstar.tables import read_json


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False, exists=True))
def report(run_dir: str) -> None:
    """Rebuild and print the report of a run directory (report.md, report.html, plots/)."""
    from redstar.report import print_summary, write_report

    summary_file = Path(run_dir) / "summary.json"
    if not summary_file.exists():
        raise RedStarError(f"{summary_file} not found: is {run_dir} a RedStar run directory?")
    summary = read_json(summary_file)
    md, page = write_report(run_dir, summary)
    print_summary(summary, Console())
    click.echo(f"wrote {md} and {page}")

