"""One JSON answer from another interpreter: an own environment's import check
(:func:`bench.models.ownenv.check_python`), a run's probes (:mod:`bench.run.precheck`) and
``bench check-model``'s checks there. The command runs within a time limit with its output
going to temporary files, read back as bounded tails (a model printing without end costs no
memory); the answer is the last line of its standard output that starts with ``{``. An
interpreter that does not run, gives no answer in time or answers a line that is no JSON
object is one :class:`ModelUnavailableError` line naming what was run."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bench.bounded import MiB
from bench.errors import ModelUnavailableError
from bench.run.runlog import OUTPUT_TAIL, read_tail

#: the part of the answer's standard output read (the JSON line: checks, probes, a few kB)
ANSWER_TAIL = 4 * MiB


@dataclasses.dataclass(frozen=True)
class Answer:
    """What the interpreter said: its JSON object (None: no line starts with ``{``), and the
    last :data:`bench.run.runlog.OUTPUT_TAIL` bytes of its standard error."""

    value: dict[str, Any] | None
    stderr: str

    def last_line(self) -> str:
        """The last line of standard error that is not blank (``no output`` without)."""
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        return lines[-1].strip() if lines else "no output"

    def loaded(self, key: str, python: str) -> dict[str, Any]:
        """The answer of ``bench.run.remote`` having loaded model ``key`` in ``python``; its
        error (or standard error's last line, without an answer) a ModelUnavailableError."""
        found = self.value or {"error": self.last_line()}
        if "error" in found:
            raise ModelUnavailableError(f"{key} failed to load in {python}: {found['error']}")
        return found


def ask(command: list[str], timeout_s: float | None, label: str, doing: str = "") -> Answer:
    """The :class:`Answer` of ``command`` run within ``timeout_s`` seconds (None: no limit),
    without input; else ModelUnavailableError starting with ``label`` (what was run, e.g.
    ``KEY: python PATH``), ``doing`` added to the time-limit's line."""
    with tempfile.TemporaryDirectory(prefix="bench-answer-") as folder:
        out, err = Path(folder) / "out.txt", Path(folder) / "err.txt"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            try:
                run = {"stdin": subprocess.DEVNULL, "stdout": stdout, "stderr": stderr}
                subprocess.run(command, timeout=timeout_s, check=False, **run)
            except subprocess.TimeoutExpired:
                limit = f"{round(timeout_s or 0, 1):g}"
                raise ModelUnavailableError(
                    f"{label} gave no answer within {limit} s{doing}"
                ) from None
            except OSError as error:
                raise ModelUnavailableError(f"{label} does not run ({error})") from error
        lines = [x for x in read_tail(out, ANSWER_TAIL).splitlines() if x.startswith("{")]
        answer = Answer(_parsed(lines[-1], label) if lines else None, read_tail(err, OUTPUT_TAIL))
    return answer


def _parsed(line: str, label: str) -> dict[str, Any]:
    """The JSON object on ``line``; else ModelUnavailableError naming ``label``."""
    try:
        value = json.loads(line)
    except (ValueError, RecursionError) as err:  # a JSONDecodeError, a 5,000-digit number
        raise ModelUnavailableError(f"{label} answered a line that is not JSON ({err})") from None
    return value
