"""A pydantic-ai agent served over AG-UI by pydantic-ai's own adapter (`AGUIAdapter`).

The agent's model is a `FunctionModel` whose script follows README "Intents" without any
network model: the calculator (division by zero is the tool's error), the wait tool, a
failing agent (the run ends in RUN_ERROR) and the catalogue. A sign-in check with the
`GOLDEN_PATH_JWT_*` settings stands in front, so the suite's people sign in as they do
with the reference service. Run it with `python -m peers.pydantic_ai --host H --port P`.
"""
