"""The workflow engine (DESIGN §11): documents, expressions, node types and the execution of a run.

It imports only `borealis.core` and `borealis.protocol`; what a node needs from the server (jobs on
agents, guarded HTTP, stored inventory, sub-runs) it reaches through `services.NodeServices`.
"""
