"""The agent on a managed device (DESIGN §2): a small supervisor that keeps one worker process alive.

Rooms: `link` (the WebSocket to the server and what travels on it), `jobs` (signed jobs and their
checks), `roles` (what jobs run), `user_session` (the helper in a user's login session), `screen`
(live view and capture), `inventory`, `self_update` (new agent versions), `service` (the OS service,
its supervisor and its record), `platform`. `assembly` wires them into a `worker`.
"""
