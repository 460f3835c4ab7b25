"""behave hooks: build the stack once per run, give each scenario fresh people, clean up.

Plain `def` hooks (behave never awaits async ones); the asynchronous work happens on the
harness's background loop (support.loop). A configuration or start-up problem stops the
run in `before_all` with one line that says what to do. A scenario tagged
`@fixture.NAME` gets that fixture after its cast is made (a chat service of its own for
`@fixture.own_chat_service`), with the fixture's clean-up registered on the scenario.
A scenario of an area this run cannot check (support.areas: over AG-UI, what only
contract v1 expresses; against an agent the suite did not start, also its storage and
cache) is skipped before it starts, with the reason, and reported as not checked.
"""

from behave.fixture import use_fixture_by_tag

from support.actors.cast import Cast
from support.actors.tasks.crashing import own_chat_service
from support.areas import reason_to_skip
from support.config import SuiteConfig
from support.runinfo import RUN
from support.stack import start, stop

FIXTURES = {"fixture.own_chat_service": own_chat_service}


def before_all(context):
    context.stack = None
    context.stack = start(SuiteConfig.load(context.config.userdata))


def before_scenario(context, scenario):
    not_checked = reason_to_skip(scenario.effective_tags, RUN.not_checked)
    if not_checked:
        scenario.skip(not_checked)
        return
    context.cast = Cast(context.stack)
    context.add_cleanup(context.cast.clean_up)
    for tag in scenario.effective_tags:
        if tag.startswith("fixture."):
            use_fixture_by_tag(tag, context, FIXTURES)


def after_all(context):
    stop(getattr(context, "stack", None))
