"""The golden path as a Locust user (DESIGN §7), Locust's entry point:

    locust -f tools/locustfile.py --host ws://HOST:PORT/ws --headless -u 50 -r 10 -t 30s

Sign-ins use the suite's `GOLDEN_PATH_JWT_*` settings. The user, its steps and rows are in
`tools.load.user`; README "Load with Locust" has a command for each way to run it.
"""

from tools.load.user import GoldenPathUser

__all__ = ["GoldenPathUser"]
