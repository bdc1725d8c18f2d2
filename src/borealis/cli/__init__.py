"""The `borealis` command: options mapped onto programmatic entry points; no logic of its own."""
