"""The agent as an OS service: its installer and venv, the supervisor that keeps the worker alive,
and the status record both leave in the home."""
