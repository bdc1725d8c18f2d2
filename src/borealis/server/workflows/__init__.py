"""The server's side of workflows: saving them, starting and dispatching runs, recording what each node
did, triggers that poll, and the services nodes reach the server through (the engine is `borealis.engine`)."""
