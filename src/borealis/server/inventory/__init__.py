"""The server side of inventory (DESIGN §10): snapshots per agent and section, their history, searches.

inbound     the agent's `inventory` frame, checked section by section (protocol.inventory)
batches     uploads from many agents queued and written together; each acked after its commit
store       one batch written: unchanged sections skipped, snapshots replaced, changes recorded
changes     what changed between two snapshots (packages, updates, disks filling, system)
items       the denormalised rows the fleet is searched by
versions    dpkg and rpm version ordering
history     an agent's changes, paged; retention
queries     an agent's snapshots; fleet searches (package by version range, updates, disks, processes)
service     the pieces wired together: receive and ack, refresh through an `inventory` job, prune
"""
