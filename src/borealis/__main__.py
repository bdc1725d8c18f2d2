"""`python -m borealis` is the `borealis` command."""

from borealis.cli.main import main

main()
