"""``bench table --run``: run the models (resuming) before the table is built, or, with
``--dry-run``, print the plan of each run."""

from __future__ import annotations

import argparse

from bench.commands.output import run_words
from bench.errors import ConfigurationError
from bench.terminal import echo, shown


def run_for_table(args: argparse.Namespace, subsets: dict[str, str | None]) -> list[str]:
    """Run each model on each task's subset (resuming) into the first --runs directory;
    the lines of the models that could not run."""
    from bench.errors import ModelCheckError
    from bench.models import list_models, local_checkpoint, unavailable_reason
    from bench.models.external import load_models_file
    from bench.run.plan import plan, plan_lines
    from bench.run.runner import RunConfig, run

    if args.models_file:  # also for the table: its labels are that file's models
        load_models_file(args.models_file)
    models = (
        _named_models(args.models)
        if args.models
        else [
            s.key
            for s in list_models()
            if s.family != "emt"
            and unavailable_reason(s) is None
            and (s.checkpoint is None or local_checkpoint(s) is not None)
        ]
    )
    if args.name and len(models) != 1:
        raise ConfigurationError("--name labels one model: give --models with exactly one")
    skipped = []
    for model in models:
        for task, subset in [(t, s) for t, s in subsets.items() if s]:  # None: left out
            echo(f"== {shown(model)} {task} {subset}", flush=True)
            config = RunConfig(
                model=model,
                task=task,
                subset=subset,
                workers=args.workers,
                threads=args.threads,
                data_dir=args.data_dir,
                out_dir=args.runs[0],
                progress=not args.quiet,
                check=not args.no_check,
                name=args.name,
            )
            try:
                if args.dry_run:
                    echo("\n".join("   " + line for line in plan_lines(plan(config))))
                    continue
                summary = run(config)
            except (ConfigurationError, ModelCheckError) as err:
                echo(f"   skipped: {shown(err)}")
                skipped.append(f"{model} {task}: {err}")
                continue
            echo("   " + run_words(summary).replace("\n", "\n   "))
    return skipped


def _named_models(given: str) -> list[str]:
    """The models of ``--models a,b``, each a name bench knows: an unknown one (a typo) is
    one ConfigurationError before anything runs, not one skip per task. A known model that
    cannot run here is skipped per task, as ``--allow-missing`` expects."""
    from bench.errors import UnknownModelError
    from bench.models import resolve

    models = [name.strip() for name in given.split(",") if name.strip()]
    if not models:
        raise ConfigurationError(f"--models {given!r}: no model named")
    for name in models:
        try:
            resolve(name)
        except UnknownModelError as err:
            raise ConfigurationError(f"--models: {err}") from err
        except ConfigurationError:  # it cannot run here (an import, a package): skipped below
            pass
    return models
