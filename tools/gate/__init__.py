"""The CI gate in Python: `python -m tools.gate`, run by `.ci/run` once it has installed
the system packages and the project.

`scenarios` counts a behave run's scenarios from its Cucumber JSON; `stages` runs one
command with a time limit and keeps the stage table; `__main__` is the order of the stages.
"""

from tools.gate.scenarios import NoScenarios, ScenarioCounts, count_document, count_file
from tools.gate.stages import Gate, mask, run_command

__all__ = [
    "Gate",
    "NoScenarios",
    "ScenarioCounts",
    "count_document",
    "count_file",
    "mask",
    "run_command",
]
