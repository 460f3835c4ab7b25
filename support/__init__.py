"""The harness: only what a behave run imports (configuration, the stack, the chat client,
probes, matchers, metrics, reports). Steps call this package; only `support.stack` imports
`chat`; what a person runs stands in `tools/`, which imports this package, never the
other way."""
