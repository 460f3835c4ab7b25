"""What a person runs with `python -m tools.X`: the local services, the benchmark, the soak
and the CI gate. Tools import the harness (`support`); the harness never imports them."""
