"""behave hooks: build the stack once per run, give each scenario fresh people, clean up.

Plain `def` hooks (behave never awaits async ones); the asynchronous work happens on the
harness's background loop (support.loop). A configuration or start-up problem stops the
run in `before_all` with one line that says what to do.
"""

from support.config import SuiteConfig
from support.stack import start, stop
from support.users import Cast


def before_all(context):
    context.stack = None
    context.stack = start(SuiteConfig.load(context.config.userdata))


def before_scenario(context, scenario):
    context.cast = Cast(context.stack)
    context.add_cleanup(context.cast.clean_up)


def after_all(context):
    stop(getattr(context, "stack", None))
