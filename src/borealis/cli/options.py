"""Options several commands share."""

from __future__ import annotations

import click

home_option = click.option(
    "--home",
    "home",
    envvar="BOREALIS_HOME",
    default="./borealis-home",
    show_default=True,
    type=click.Path(file_okay=False),
    help="The folder everything is kept in.",
)
db_option = click.option("--db", "db", default=None, help="Database URL (default: SQLite in the home).")
