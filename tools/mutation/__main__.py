"""`python -m tools.mutation [--sample N] [--seed S]`: see `tools.mutation`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import tools.mutation
from tools.mutation.report import write
from tools.mutation.session import SuiteFailed, run_session


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.mutation",
                                     description=str(tools.mutation.__doc__).splitlines()[0])
    parser.add_argument("--sample", type=int, help="try N mutants picked at random "
                        "(default: all that are not equivalent)")
    parser.add_argument("--seed", type=int, help="the seed of the random pick")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds the suite may take on one mutant (default 120)")
    parser.add_argument("--again", type=Path, metavar="REPORT",
                        help="try again only the survivors of an earlier mutation.json "
                        "(matched by module, operator and the change, wherever it now is)")
    parser.add_argument("--workers", type=int, default=1,
                        help="copies of the project judging mutants side by side (default 1)")
    parser.add_argument("--out", default="reports", help="where the reports go")
    args = parser.parse_args(argv)
    if args.sample is not None and args.sample < 1:
        parser.error("--sample must be at least 1")
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    again = None
    if args.again is not None:
        try:
            again = json.loads(args.again.read_text())["survived"]
        except (OSError, ValueError, KeyError) as exc:
            parser.error(f"--again {args.again}: not a mutation report with survivors ({exc})")
    try:
        outcome = run_session(args.sample, args.seed, args.timeout, args.workers, again)
    except SuiteFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    write(outcome, args.sample, args.seed, Path(args.out),
          None if args.again is None else str(args.again))
    print(f"mutants {outcome.mutants}: equivalent {len(outcome.equivalent)}, outside the "
          f"contract {len(outcome.outside)}, tried "
          f"{outcome.tried}, killed {len(outcome.killed)}, survived {len(outcome.survived)} "
          f"({len(outcome.unreached)} on lines no scenario runs), "
          f"incompetent {len(outcome.incompetent)}; wrote {args.out}/mutation.json and "
          f"{args.out}/mutation.md")
    for mutant in outcome.survived:
        where = "not reached" if mutant.judged_by is None else "reached"
        print(f"  survived: {mutant.module}:{mutant.line} {mutant.operator} ({where})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
