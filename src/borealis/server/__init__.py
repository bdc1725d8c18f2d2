"""The Borealis server: HTTP API, agent gateway, presence, and their storage."""
