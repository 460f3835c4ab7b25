"""The golden path's speed, cost and scale, each beside a raw baseline measured in the
same run: `python -m tools.bench [--backends embedded|real] [--quick]`.

It runs on the stack the acceptance suite uses (`support.stack`), prints a table and
writes `reports/bench.json` and `reports/bench.md`. Absolute times on a shared 2-core
machine are noise; the ratio to a baseline measured side by side is what holds, so every
figure carries one. Targets are read from the reports, never turned into timed tests.
"""
