"""``bench table --run``: each model on each task's subset (resuming) before the table, or,
with ``--dry-run``, the plan of each run."""

from __future__ import annotations

import argparse

from bench.commands.output import run_words
from bench.errors import ConfigurationError


def run_for_table(args: argparse.Namespace, subsets: dict[str, str]) -> list[str]:
    """Run each model on each task's subset (resuming) into the first --runs directory;
    the lines of the models that could not run."""
    from bench.models import list_models, local_checkpoint, unavailable_reason
    from bench.run.plan import plan, plan_lines
    from bench.run.runner import RunConfig, run

    models = (
        args.models.split(",")
        if args.models
        else [
            s.key
            for s in list_models()
            if s.family != "emt"
            and unavailable_reason(s) is None
            and (s.checkpoint is None or local_checkpoint(s) is not None)
        ]
    )
    skipped = []
    for model in models:
        for task, subset in subsets.items():
            print(f"== {model} {task} {subset}", flush=True)
            config = RunConfig(
                model=model,
                task=task,
                subset=subset,
                workers=args.workers,
                data_dir=args.data_dir,
                out_dir=args.runs[0],
                progress=not args.quiet,
            )
            try:
                if args.dry_run:
                    print("\n".join("   " + line for line in plan_lines(plan(config))))
                    continue
                summary = run(config)
            except ConfigurationError as err:
                print(f"   skipped: {err}")
                skipped.append(f"{model} {task}: {err}")
                continue
            print("   " + run_words(summary).replace("\n", "\n   "))
    return skipped
