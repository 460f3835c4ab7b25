"""The golden path under load with Locust (DESIGN §7): `tools/locustfile.py` is Locust's
entry point, and this package what it runs.

- `client`: contract v1 over a blocking WebSocket, fit for Locust's gevent (the codec of
  `support.wire` builds, reads and judges every frame);
- `mix`: what a load user asks, and the outcome each question promises;
- `user`: the Locust user and its rows of statistics, and the clean-up when a test stops;
- `cleanup`, `python -m tools.load clean`: removing the users a load run made;
- `settings`: the suite's `GOLDEN_PATH_*` settings as a load run reads them.

Only `user` needs Locust; `support` never imports this package.
"""
