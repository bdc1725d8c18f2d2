"""The user-session helper (DESIGN §2): a process in a user's login session that runs `run_as: user`
jobs and live view, the agent's hub of helpers, and the local socket between them."""
