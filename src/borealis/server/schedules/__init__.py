"""Durable schedules (DESIGN §11): cron or interval timing in a time zone, misfire and overlap rules,
atomic slot claiming shared by every server process, and a record of every slot."""
