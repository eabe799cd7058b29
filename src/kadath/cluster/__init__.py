"""One world across many processes (docs/scaling.md): zone leases in a NATS JetStream
key-value bucket, fenced by an epoch kept in PostgreSQL. Nothing here runs players yet."""
