"""One catalogue entry (``catalogue.toml``): a model's key, family, package, weights, dtypes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.errors import ModelUnavailableError


@dataclass(frozen=True)
class ModelSpec:
    """One catalogue entry (see catalogue.toml for the meaning of each field)."""

    key: str
    family: str
    package: str
    env: str
    source: str
    description: str
    dtypes: tuple[str, ...]
    aliases: tuple[str, ...] = ()
    checkpoint: str | None = None
    url: str | None = None  # the weights' download URL (None: they ship in the wheel)
    cache: str | None = None  # where the upstream package keeps downloads ("": nowhere)
    table2: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    second_order_dtype: str | None = None  # default for phonons/elasticity if not the last
    #: what workers resolve instead of ``key`` (a model outside the catalogue: its JSON token)
    ref: str | None = None

    @property
    def token(self) -> str:
        """The string a worker process resolves to this model (``ref``, else ``key``)."""
        return self.ref or self.key

    @property
    def import_probe(self) -> str:
        """Module whose import proves the family works (``options.import``, else the package)."""
        return str(self.options.get("import", self.package))

    def dtype_for(self, requested: str | None, second_order: bool) -> str:
        """Precision to run: ``requested`` if supported, else the family default.

        For second-order quantities (phonons, elasticity) the default is ``second_order_dtype``
        if the catalogue sets one, else the most precise dtype the family supports (the last
        listed); for anything else the first.
        """
        if requested is not None:
            if requested not in self.dtypes:
                raise ModelUnavailableError(
                    f"{self.key} supports dtype {', '.join(self.dtypes)}, not {requested}"
                )
            return requested
        if second_order:
            return self.second_order_dtype or self.dtypes[-1]
        return self.dtypes[0]
