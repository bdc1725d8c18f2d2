"""Agent self-update (docs/updates.md): receive a signed wheel of a new agent version, install it
beside the running one, and switch the supervisor to it (or back)."""
