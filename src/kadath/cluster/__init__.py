"""One world across many processes (docs/scaling.md): zone leases in a NATS JetStream
key-value bucket, fenced by an epoch kept in PostgreSQL; ``serve --cluster``, ``engine`` and
``gateway`` nodes serving players through tunnels; the world-wide ports (``who``, whispers,
broadcasts, channels, moderation, reloads) over NATS subjects."""
