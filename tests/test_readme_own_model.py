"""The examples of docs/own-model.md (the first is README's "Benchmark your own model" example,
``tests/test_docs.py`` checks they are equal), run as written in a fresh folder (EMT as the own
potential): the bash blocks with ``bench`` on the PATH, the YAML block as models.yml, the Python
block as a script."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


#: the first line of a block that takes hours (the full sets): not run here, only parsed by
#: tests/test_docs.py
HOURS = "# hours:"


def _blocks() -> list[tuple[str, str]]:
    """(language, code) of each fenced block of the page, in order (``text`` blocks show
    output, not code to run; a block of hours is left out)."""
    text = (ROOT / "docs" / "own-model.md").read_text()
    blocks = re.findall(r"```(\w+)\n(.*?)```", text, flags=re.S)
    return [(lang, code) for lang, code in blocks if lang != "text" and HOURS not in code[:20]]


@pytest.mark.slow
def test_readme_own_model_examples_run_as_written(tmp_path, shared_data):
    blocks = _blocks()
    assert [lang for lang, _ in blocks] == ["bash", "yaml", "bash", "python", "bash"]
    shim = tmp_path / "bin" / "bench"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m bench.cli "$@"\n')
    shim.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{shim.parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "BENCH_DATA": str(shared_data),
        "VIRTUAL_ENV": str(ROOT / ".venv"),  # as activated: the committed records beside it
    }
    here = tmp_path / "lab"
    here.mkdir()
    outputs = []
    for lang, code in blocks:
        if lang == "yaml":
            (here / "models.yml").write_text(code)
            continue
        argv = ["bash", "-ec", code] if lang == "bash" else [sys.executable, "-c", code]
        done = subprocess.run(argv, cwd=here, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-3000:]
        outputs.append(done.stdout)
    assert "passed:" in outputs[0] and "mypot:make" in (here / "tab" / "table2.md").read_text()
    assert "my-model-v3" in outputs[1]
    assert "mp-10903" in outputs[2] and "ok" in outputs[2]
    smoke = (here / "smoke" / "headline.md").read_text()  # beside the committed rows
    assert "| mdr-smoke | mypot:make |" in smoke and "| elastic-smoke | chgnet-0.3.0 |" in smoke
    assert "| my-model-v3 |" in (here / "smoke-v3" / "table2.md").read_text()
