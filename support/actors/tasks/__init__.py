"""What people do: connect, ask, resume, drop, misbehave, crash a service. Each task is a
small function over a person, bounded by the one configured timeout."""
