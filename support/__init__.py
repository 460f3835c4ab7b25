"""The harness: configuration, the stack, the chat client, probes, matchers, metrics,
reports and the benchmark. Steps call this package; only `support.stack` imports `chat`."""
