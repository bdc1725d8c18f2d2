"""The agent on a managed device (DESIGN §2): a small supervisor that keeps one worker process alive.

The worker holds the one WebSocket to the server (`connection`), reports its state in the home
(`status_file`), and the supervisor restarts it when it exits, hangs or outgrows its memory budget.
"""
