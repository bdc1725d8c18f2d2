"""Signed jobs on the agent (DESIGN §5): the runner and its checks, the operator co-signature policy,
and the process groups a job's scripts run in."""
