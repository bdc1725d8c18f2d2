"""Agent self-update, server side: the agent wheels the server holds, their throttled rollouts, and
the frames agents fetch them with (issue 5 part 3, docs/updates.md)."""
