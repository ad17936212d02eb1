"""What a task is: its settings and protocols, the properties it scores, how it evaluates a
material. One module per task under ``bench/tasks/`` declares a ``TASK``; the registry
(:data:`bench.tasks.TASKS`) finds them, and the CLI, runner, report and baselines read
everything task-specific from it."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

from bench.errors import MaterialError


@dataclass(frozen=True)
class Material:
    """The material a task evaluates: its data set, its id there, and the data directory
    (None: the usual lookup, ``bench.datasets.locate``)."""

    dataset: str
    material_id: str
    data_dir: Path | None = None

    @property
    def where(self) -> tuple[str, str, Path | None]:
        """(dataset, material_id, data_dir): the arguments of the data set loaders."""
        return self.dataset, self.material_id, self.data_dir


class TaskOutput(TypedDict, total=False):
    """What a task's ``evaluate`` returns: ``values`` (property -> number, unit in the name),
    ``ref`` (the reference's, same keys; empty without one), ``details`` (what the record keeps
    beside them), ``timings_s`` (stage -> seconds) and, optionally, ``artifacts`` (arrays
    kept beside the store)."""

    values: dict[str, Any]
    ref: dict[str, Any]
    details: dict[str, Any]
    timings_s: dict[str, float]
    artifacts: dict[str, Any]


@contextmanager
def failing_with(ref: dict[str, Any], details: dict[str, Any]) -> Iterator[None]:
    """Fold what a task knew before a material failed into the :class:`MaterialError`'s
    partial result, by one rule for every task: the error's values and timings stay, its
    details extend the task's, and the reference is the task's unless the error carries one."""
    try:
        yield
    except MaterialError as err:
        partial = dict(err.partial)
        partial["details"] = {**details, **(partial.get("details") or {})}
        partial.setdefault("ref", ref)
        err.partial = partial
        raise


@dataclass(frozen=True)
class Property:
    """One scored quantity of a task.

    ``name`` is its key in a record's values (unit in the name: ``K_GPa``), ``label`` the
    table header, ``paper_column`` its column in Orb-v3's Table 2 (``bench/reference``; None:
    not in the paper), ``tolerance_floor`` the regression baselines' absolute floor (same
    unit), ``per_mole`` True when the value is per mole of a basis the data set names
    (primitive cells, the given cell).
    """

    name: str
    label: str
    paper_column: str | None = None
    tolerance_floor: float = 0.0
    per_mole: bool = False


@dataclass(frozen=True)
class EngineStages:
    """What a batched engine (:mod:`bench.engines`) computes for a task before its
    ``evaluate`` runs: ``start(material, settings)`` gives the structure the material relaxes
    from (``settings.relax``) and what ``follow`` needs (e.g. its reference);
    ``follow(relaxed, context, settings)`` the structures whose model outputs ``evaluate``
    then asks for (displaced supercells, strained cells)."""

    start: Callable[[Material, Any], tuple[Any, Any]]
    follow: Callable[[Any, Any, Any], list[Any]]


@dataclass(frozen=True)
class Task:
    """A benchmark task.

    ``protocols``: name -> settings object (frozen dataclass of ``settings_cls``); the first is
    the default unless the data set names its source's. ``evaluate(model, material, settings,
    batch)`` (a :class:`Material`) returns a :class:`TaskOutput` and raises a
    :class:`bench.errors.MaterialError` (with ``partial``, see :func:`failing_with`) for a
    material that fails; it writes nothing. ``has_reference`` False: no DFT value (summaries
    give distributions). ``table2``: a column group of Orb-v3's Table 2. ``flags``: boolean
    values of ok records counted beside the MAE (record column -> count name), e.g. tensors
    that are not positive definite.
    """

    name: str
    settings_cls: type
    protocols: dict[str, Any]
    props: tuple[Property, ...]
    evaluate: Callable[..., dict[str, Any]]
    default_subset: str
    has_reference: bool = True
    #: needs only each material's structure, so it runs on a subset of any data set
    structure_only: bool = False
    table2: bool = False
    flags: dict[str, str] = field(default_factory=dict)
    #: count name (a ``flags`` value) -> its short label in tables ("not PD")
    flag_labels: dict[str, str] = field(default_factory=dict)
    #: ``bench table`` / ``bench report`` option picking this task's subset (``--<option>``)
    subset_option: str | None = None
    #: the data set Orb-v3's paper measured the task on: paper values appear only beside it
    paper_dataset: str | None = None
    #: the site's sections (full, mdr, dev, smoke) -> this task's subset in each
    report_subsets: dict[str, str] = field(default_factory=dict)
    #: an extra section of a material's page ("bands": phonopy band structure and DOS)
    page_section: str | None = None
    #: what a distribution table of a task without a reference should say under it
    distribution_note: str = ""
    #: why the task needs the model's stress ("": it does not), said when a model has none
    stress_use: str = ""
    #: how a batched engine runs it (None: the ``ase`` engine only)
    stages: EngineStages | None = None

    @property
    def count_flag(self) -> tuple[str, str] | None:
        """The first flag's (count name, label), shown beside the failure count; None."""
        if not self.flags:
            return None
        count = next(iter(self.flags.values()))
        return count, self.flag_labels.get(count, count)

    @property
    def summary(self) -> str:
        """One line on what the task measures: the first sentence of its module's docstring."""
        module = inspect.getmodule(self.evaluate)
        doc = (module.__doc__ if module else None) or self.name
        first = " ".join(doc.strip().split("\n\n")[0].split())
        return first.split(". ")[0].rstrip(".")

    @property
    def properties(self) -> tuple[str, ...]:
        """The names of the scored properties, in table order."""
        return tuple(p.name for p in self.props)
