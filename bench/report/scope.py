"""Which records may give a set's MAE: the whole set, or a prefix of at least
:data:`MIN_PREFIX` materials of a set kept in a seeded random order (every prefix of such a
set is a uniform random sample, so its MAE estimates the whole set's, and its interval says how
well). Anything else (hand-picked materials that happen to lie in the set, a partial run of a
set whose order is not random, a prefix under 30) shows its coverage and no number; the
materials are reported under the subset they belong to."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

#: whole data sets, and seeded random samples of them (their MAE estimates the whole set's);
#: every other subset is picked (smoke: cheap, easy materials; le256: small cells) and its
#: MAE is not comparable with a whole set's, but for the ones whose materials are all of a
#: set that are here (:data:`AVAILABLE_SUBSETS`)
FULL_SUBSETS = ("elastic-full", "cv-binary-1170", "mdr-full", "elastic-all-2025.3")
RANDOM_SUBSETS = ("elastic-dev", "cv-binary-sample100")
#: subset -> what it is, for the subsets that are a set's materials available here
AVAILABLE_SUBSETS = {
    "mdr-50": (
        "the 50 MDR materials (Alexandria PBE phonons) whose phonopy files are here, as "
        "joehart2001/benchmark_app re-saved them from Alexandria's; sorted as text their ids run "
        "from mp-1000 to mp-13923, a stretch of MDR's index, not a random sample. MDR's full "
        "set is about 10,000 materials online (alexandria.icams.rub.de/data/phonon_benchmark); "
        "the paper's values average over it"
    ),
}
#: subsets in a seeded random order (datasets/README.md): their prefixes are random samples
SEEDED_ORDER = ("elastic-full", "cv-binary-1170", "mdr-full", "elastic-all-2025.3")
#: a run of a subset (kept in its order) that stopped leaves gaps only in its last claimed
#: window (bench.run.runner.CLAIM_WINDOW): records all within the first (count + this) of the
#: order are that subset's own run, stopped or in progress
ORDER_SLACK = 32
#: the fewest materials of a prefix that gives an MAE (as ``bench summary``'s rough-interval
#: note: below it a bootstrap interval sees too few values)
MIN_PREFIX = 30


@dataclass(frozen=True)
class Scope:
    """What a model's records on a subset support.

    ``kind``: ``whole`` (every material recorded), ``prefix`` (the first ``n_used`` of a seeded
    order, at least :data:`MIN_PREFIX`), ``coverage`` (records, but no number: ``reason``) or
    ``none`` (no records). ``in_order``: the records are a prefix of the subset's order up to
    the gaps a stopped run leaves (:data:`ORDER_SLACK`): a run of this subset, stopped or in
    progress, not materials from elsewhere."""

    kind: str
    n_used: int
    n_recorded: int
    n_total: int
    in_order: bool
    reason: str = ""

    @property
    def has_number(self) -> bool:
        return self.kind in ("whole", "prefix")

    @property
    def coverage(self) -> str:
        """``773 of 3953``: materials recorded of the subset."""
        return f"{self.n_recorded} of {self.n_total}"

    @property
    def label(self) -> str:
        """Where the number comes from: ``whole set``, ``random prefix, 773 of 3953``, or ''."""
        if self.kind == "whole":
            return "whole set"
        return f"random prefix, {self.n_used} of {self.n_total}" if self.kind == "prefix" else ""


def mae_scope(subset: str, ids: Sequence[str], recorded: Collection[str]) -> Scope:
    """The :class:`Scope` of the records of materials ``recorded`` on ``subset`` (its ``ids``
    in the subset's order); ids outside the subset are ignored."""
    have = set(recorded) & set(ids)
    n, k = len(ids), len(have)
    prefix = next((i for i, m in enumerate(ids) if m not in have), n)
    last = max((i for i, m in enumerate(ids) if m in have), default=-1)
    in_order = last < k + ORDER_SLACK
    if k == 0:
        return Scope("none", 0, 0, n, True)
    if k == n:
        return Scope("whole", n, k, n, True)
    if subset not in SEEDED_ORDER:
        why = f"not the whole set, and {subset}'s order is not random (a prefix is no sample)"
    elif prefix >= MIN_PREFIX:
        return Scope("prefix", prefix, k, n, in_order)
    elif in_order:
        why = f"a random prefix of {k}, under {MIN_PREFIX}"
    else:
        why = (
            f"not a prefix of {subset}'s seeded random order (materials of another subset: "
            "they count under it)"
        )
    return Scope("coverage", 0, k, n, in_order, why)


def used_ids(scope: Scope, ids: Sequence[str]) -> list[str]:
    """The materials whose records enter the number (none for a scope without one)."""
    return list(ids[: scope.n_used]) if scope.has_number else []


def subset_kind(subset: str) -> str:
    """ "full", "random" (a seeded random sample of a full set), "available" (the materials of
    a set that are here, :data:`AVAILABLE_SUBSETS`) or "picked"."""
    if subset in FULL_SUBSETS:
        return "full"
    if subset in AVAILABLE_SUBSETS:
        return "available"
    return "random" if subset in RANDOM_SUBSETS else "picked"
