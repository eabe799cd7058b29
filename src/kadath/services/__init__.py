"""Use cases: each receives its collaborators once, runs one unit of work, speaks through the
Messenger. No SQL, no sockets."""
