"""The server side of jobs (DESIGN §6, §9): validation, per-agent rows, signed delivery, results, events.

spec        what a submitted job asks for, checked (roles, script parameters, sizes)
roles       the roles a job may name: built-ins and those agents report
targets     a target (`agents`, `tags`, `all`) resolved once to active agents
store       the rows: create, send, accept, finish, cancel, expire (guarded state changes)
frames      the signed `job` frame and the other server → agent frames
inbound     agent → server job frames, validated field by field
delivery    one frame to one agent, on this process or through the bus
events      live job events for SSE listeners (bounded, lossy per listener)
stream      a job's events as Server-Sent Events
views       jobs and rows as the API shows them; output: the stored, bounded tail
library     the script library and its versions
service     the pieces wired together: submit, cancel, dispatch, batches, receive, expire
"""
