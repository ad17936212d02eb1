"""Frozen settings: every knob that changes a benchmark number, hashed into each record.

Each default names its source. Change a value and the digest changes, so the store keeps the old
records beside the new ones instead of overwriting them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

#: THz -> K, as MDR's postprocess.py (hyllios/utils benchmark_ph/postprocess.py) writes it.
THZ_TO_K_MDR = 47.992


@dataclass(frozen=True)
class RelaxSettings:
    """Unit-cell relaxation before phonons (MDR: hyllios/utils benchmark_ph/umlip.py).

    MDR calls ``relax_structure(fmax=0.005, fix_symmetry=True)``, which runs FIRE to ``fmax/2``
    in passes of 500 steps (at most 15) and then rejects the structure if the max force on the
    filtered system (atoms and cell) is above ``fmax``.
    """

    optimizer: str = "FIRE"  # umlip.py: FIRE(ase_struct)
    cell_filter: str = "FrechetCellFilter"  # umlip.py: FrechetCellFilter(mask=3d, pressure 0)
    fix_symmetry: bool = True  # calc_phonopy.py: fix_symmetry=True
    symprec: float = 0.01  # ase.constraints.FixSymmetry default symprec
    fmax_eV_per_A: float = 0.0025  # umlip.py: optimizer.run(fmax=fmax/2) with fmax=0.005
    #: None: no acceptance test (the structure is used however far it got)
    accept_fmax_eV_per_A: float | None = 0.005  # umlip.py: final check fmax2 > fmax**2
    steps_per_pass: int = 500  # umlip.py: steps=500
    max_passes: int = 15  # umlip.py: for i in range(15)
    #: None: no bound on the forces during the relaxation
    explode_force_eV_per_A: float | None = 1.0e4  # umlip.py: observe_forces, "unphysical"
    #: which max force the acceptance test reads: "filtered" = atoms and cell (umlip.py checks
    #: the FrechetCellFilter forces), "atoms" = atomic forces only (matcalc RelaxCalc)
    accept_on: str = "filtered"

    def __post_init__(self) -> None:
        check_finite(self)
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer {self.optimizer!r}: choose from {', '.join(OPTIMIZERS)}")
        if self.cell_filter not in CELL_FILTERS:
            raise ValueError(
                f"cell_filter {self.cell_filter!r}: choose from {', '.join(CELL_FILTERS)}"
            )
        if self.accept_on not in ("filtered", "atoms"):
            raise ValueError(f"accept_on {self.accept_on!r}: choose filtered or atoms")
        if self.fmax_eV_per_A <= 0 or self.steps_per_pass < 1 or self.max_passes < 1:
            raise ValueError("fmax_eV_per_A must be > 0, steps_per_pass and max_passes >= 1")
        check_range(
            "fmax_eV_per_A",
            self.fmax_eV_per_A,
            0.0,
            1.0,
            "a looser force threshold is no relaxation",
        )
        steps = self.steps_per_pass * self.max_passes
        if steps > MAX_RELAX_STEPS:
            raise ValueError(
                f"steps_per_pass x max_passes = {steps}, above {MAX_RELAX_STEPS} (MDR's 7,500 "
                "steps end a relaxation that converges at all)"
            )
        for name in ("accept_fmax_eV_per_A", "explode_force_eV_per_A"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be > 0 (or None: no test), got {value}")
        if not self.symprec > 0:
            raise ValueError(f"symprec must be > 0, got {self.symprec}")


#: the most optimiser steps a relaxation may take (MDR's 15 passes of 500 steps, x 100)
MAX_RELAX_STEPS = 750_000
#: phonon settings' bounds, with why: beyond them a run computes for hours, phonopy runs out
#: of memory (or panics), or the number is not the property any more
MAX_DISPLACEMENT_A = 0.2  # finite displacements: MDR 0.01 Å, phonopy's default 0.01-0.03 Å
MAX_MESH_LENGTH_A = 400.0  # phonopy length mesh: MDR 100 Å; (L/a)^3 q-points per cell
MAX_TEMPERATURE_K = 10_000.0  # above the melting point of every solid
MAX_TEMPERATURES = 1000
MAX_SUPERCELL_LENGTH_A = 100.0  # MatCalc's 20 Å, x 5


def check_range(name: str, value: float, low: float, high: float, why: str) -> None:
    """ValueError naming the setting, its range and why, unless ``low < value <= high``."""
    if not low < value <= high:
        raise ValueError(f"{name} must be in ({low:g}, {high:g}], got {value:g}: {why}")


#: names bench.physics.relax knows (ase.optimize classes, ase.filters classes)
OPTIMIZERS = ("FIRE", "BFGS", "LBFGS")
CELL_FILTERS = ("FrechetCellFilter",)

#: what relaxes and evaluates the structures (bench.engines): ASE one material at a time, or
#: torch-sim's batches across materials (its FIRE differs from ASE's: different numbers)
ENGINES = ("ase", "torch-sim")


def engine_field() -> Any:
    """The ``engine`` field of a task's settings: ``ase`` (the default) is left out of the
    digest, so records made before the field existed keep theirs; any other engine is in it,
    so its records never mix with ASE's."""
    return field(default="ase", metadata={"digest": "unless-default"})


def check_engine(engine: str, optimizer: str) -> None:
    """ValueError for an unknown engine, or one that cannot run ``optimizer``."""
    if engine not in ENGINES:
        raise ValueError(f"engine {engine!r}: choose from {', '.join(ENGINES)}")
    if engine == "torch-sim" and optimizer != "FIRE":
        raise ValueError(f"engine torch-sim relaxes with FIRE only, not {optimizer}")


def check_finite(settings: Any) -> None:
    """ValueError for a NaN or infinite number in a settings object (e.g. ``--set x=NaN``),
    or an empty ``dtype`` name."""
    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        if f.name == "dtype" and value is not None and not str(value).strip():
            raise ValueError("dtype must be a name (e.g. float64) or None, not empty")
        values = value if isinstance(value, tuple) else (value,)
        for v in values:
            if isinstance(v, float) and not math.isfinite(v):
                raise ValueError(f"{f.name} must be a finite number, got {v}")


@dataclass(frozen=True)
class PhononSettings:
    """Phonon protocol. The defaults are MDR's (hyllios/utils benchmark_ph/calc_phonopy.py,
    calc_ref.py, postprocess.py); :data:`bench.protocols.MATCALC_PHONONS` is MatCalc's."""

    protocol: str = "mdr"  # the name of the protocol these values copy (hashed, shown in tables)
    relax: RelaxSettings = field(default_factory=RelaxSettings)
    displacement_A: float = 0.01  # calc_phonopy.py: generate_displacements(distance=0.01)
    is_diagonal: bool = False  # calc_phonopy.py: is_diagonal=False
    remove_drift: bool = True  # calc_phonopy.py: forces -= forces.sum(0) / n
    symmetrize_force_constants: bool = True  # calc_phonopy.py: symmetrize_force_constants()
    mesh: float = 100.0  # calc_ref.py: init_mesh() -> phonopy default length-100 mesh
    temperatures_K: tuple[float, ...] = (0.0, 75.0, 150.0, 300.0, 600.0)  # calc_ref.py
    report_temperature_K: float = 300.0  # postprocess.py: index of 300 K
    thz_to_K: float = THZ_TO_K_MDR  # postprocess.py: phonon_freq * 47.992
    acoustic_gamma_tol_K: float = -35.0  # postprocess.py stability flag
    #: None: supercell matrix from the reference file (calc_phonopy.py reads it from the
    #: Alexandria yaml); a length L: diag(ceil(L / |a_i|)) of the *relaxed* cell (MatCalc)
    supercell_min_length_A: float | None = None
    phonopy_symprec: float = 1e-5  # calc_phonopy.py: phonopy.Phonopy(...) default symprec
    #: model precision; None = the family's most precise (resolved before hashing, see
    #: bench.protocols.effective_settings)
    dtype: str | None = None
    #: bench.engines: "ase" (the source's loop) or "torch-sim" (batched; not in the digest as ase)
    engine: str = engine_field()

    def __post_init__(self) -> None:
        check_finite(self)
        check_engine(self.engine, self.relax.optimizer)
        if self.report_temperature_K not in self.temperatures_K:
            raise ValueError("report_temperature_K must be one of temperatures_K")
        check_range(
            "displacement_A",
            self.displacement_A,
            0.0,
            MAX_DISPLACEMENT_A,
            "a finite-difference step beyond the harmonic regime the force constants assume",
        )
        check_range(
            "mesh",
            self.mesh,
            0.0,
            MAX_MESH_LENGTH_A,
            "phonopy's length mesh (MDR: 100 Å); a longer one does not fit in memory",
        )
        for name in ("thz_to_K", "phonopy_symprec"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        temperatures = self.temperatures_K
        if len(temperatures) > MAX_TEMPERATURES:
            raise ValueError(f"temperatures_K: {len(temperatures)}, at most {MAX_TEMPERATURES}")
        if any(not 0 <= t <= MAX_TEMPERATURE_K for t in temperatures):
            raise ValueError(
                f"temperatures_K must be in [0, {MAX_TEMPERATURE_K:g}] K (above the melting "
                f"point of every solid), got {temperatures}"
            )
        if self.supercell_min_length_A is not None:
            check_range(
                "supercell_min_length_A",
                self.supercell_min_length_A,
                0.0,
                MAX_SUPERCELL_LENGTH_A,
                "MatCalc's 20 Å, x 5; longer supercells take hours per material",
            )


def settings_dict(settings: Any) -> dict[str, Any]:
    """Plain dict of a settings dataclass, with the class name, for hashing and storage.
    A field marked ``unless-default`` (:func:`engine_field`) is left out at its default."""
    data = dataclasses.asdict(settings)
    for f in dataclasses.fields(settings):
        if f.metadata.get("digest") == "unless-default" and data.get(f.name) == f.default:
            del data[f.name]
    return {"class": type(settings).__name__, **data}


def settings_digest(settings: Any) -> str:
    """12-hex-digit sha256 of the canonical JSON of a settings dataclass."""
    return dict_digest(settings_dict(settings))


def dict_digest(data: dict[str, Any]) -> str:
    """The digest of settings as :func:`settings_dict` gives them (a records folder's
    ``settings.json``): equal to :func:`settings_digest` of the dataclass they came from."""
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def settings_from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Rebuild a settings dataclass of type ``cls`` from :func:`settings_dict` output.

    Nested settings become their dataclasses again and lists become tuples, so the digest of
    the result equals the digest of the original.
    """
    default = cls()
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        value, current = data[f.name], getattr(default, f.name)
        if dataclasses.is_dataclass(current):
            value = settings_from_dict(type(current), value)
        elif isinstance(current, tuple):
            value = tuple(value)
        kwargs[f.name] = value
    return cls(**kwargs)
