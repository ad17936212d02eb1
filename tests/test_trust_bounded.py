"""Every read at a boundary is bounded (issue 34): a models file, a part, a manifest that is a
device, a FIFO, a folder, a bomb or just too large ends in one line naming the file and the
limit, in seconds and under 1 GB of memory (each attack runs in a subprocess that reports its
own peak RSS; a hang is the subprocess's timeout, a failure)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from bench import bounded
from tests.test_trust import _write_part

ROOT = Path(__file__).resolve().parents[1]
#: what an attack may cost (the unbounded reads took 2 to 23 GB)
MAX_RSS_MB = 1024
#: prints bench's exit code and the process's peak RSS (MB) on the last line of stderr. The
#: peak is /proc's VmHWM, which belongs to this process's own memory: getrusage's ru_maxrss
#: survives exec, so under a large pytest process (the whole suite) it reported the parent's
_PROBE = (
    "import resource, sys\nfrom bench.cli import main\ncode = main(sys.argv[1:])\n"
    "try:\n"
    "    status = open('/proc/self/status').read().split('VmHWM:')[1]\n"
    "    rss = int(status.split()[0]) // 1024\n"
    "except (OSError, IndexError):\n"
    "    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024\n"
    "print(f'PROBE {code} {rss}', file=sys.stderr)\n"
)


def _attack(argv: list[str], cwd: Path) -> tuple[int, str]:
    """(exit code, the one error line) of ``bench argv`` in a subprocess; fails on a hang,
    more than one line, a traceback or a peak RSS over :data:`MAX_RSS_MB`."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BENCH_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,  # a blocking read would hang forever: this ends it as a failure
        stdin=subprocess.DEVNULL,
    )
    *lines, probe = [line for line in done.stderr.splitlines() if line.strip()]
    _, code, rss = probe.split()
    assert int(rss) < MAX_RSS_MB, f"peak RSS {rss} MB: {done.stderr[-500:]}"
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    return int(code), lines[0]


def _gzip_stream(path: Path, chunk: bytes, total: int) -> None:
    """A gzip file of ``total`` bytes of ``chunk`` repeated, compressed as a stream."""
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31)
    with open(path, "wb") as handle:
        for _ in range(total // len(chunk)):
            handle.write(compressor.compress(chunk))
        handle.write(compressor.flush())


RUN = ["run", "--task", "elasticity", "--limit", "1", "--quiet"]


@pytest.mark.parametrize("kind", ["dev-zero", "fifo", "folder", "46MB", "alias-bomb"])
def test_a_models_file_that_is_not_a_small_yaml_is_one_line(kind, tmp_path):
    path = tmp_path / "models.yml"
    limit = f"{bounded.size_text(bounded.MODELS_FILE)} limit"
    expect = {
        "dev-zero": "not a regular file",
        "fifo": "not a regular file",
        "folder": "a folder, not a file",
        "46MB": limit,
        "alias-bomb": "YAML aliases (*name) are not accepted",
    }[kind]
    if kind == "dev-zero":
        path = Path("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "46MB":
        entry = "m{}:\n  import: ase.calculators.emt:EMT\n  kwargs: {{asap_cutoff: false}}\n"
        text = "".join(entry.format(i) for i in range(46 * 2**20 // 60))
        path.write_text(text)
        assert path.stat().st_size > 45e6
    else:  # 12 lines, 10**9 leaves when expanded
        lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
        lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
        lines += ["bomb:", "  import: ase.calculators.emt:EMT", "  kwargs: {x: *a8}"]
        path.write_text("\n".join(lines) + "\n")
    run = [*RUN, "--models-file", str(path), "--model", "bomb", "--out", str(tmp_path / "o")]
    for argv in (["models", "--models-file", str(path)], run):
        code, line = _attack(argv, tmp_path)
        assert code == 2 and str(path) in line and expect in line, line
    assert not (tmp_path / "o").exists()


def test_a_yaml_alias_bomb_in_model_arg_is_one_line(tmp_path):
    bomb = "[" + ", ".join(["&a [x, x, x, x, x, x, x, x, x, x]"] + ["*a"] * 9) + "]"
    argv = [*RUN, "--model", "ase.calculators.emt:EMT", "--model-arg", f"x={bomb}"]
    code, line = _attack([*argv, "--out", str(tmp_path / "o")], tmp_path)
    assert code == 2 and "--model-arg x" in line and "aliases" in line, line
    assert not (tmp_path / "o").exists()


def test_kwargs_over_the_limit_are_one_line_before_any_manifest(tmp_path):
    path = tmp_path / "models.yml"
    big = "x" * (bounded.KWARGS + 1)
    path.write_text(f"big:\n  import: ase.calculators.emt:EMT\n  kwargs: {{note: {big}}}\n")
    argv = [*RUN, "--models-file", str(path), "--model", "big", "--out", str(tmp_path / "o")]
    code, line = _attack(argv, tmp_path)
    assert code == 2 and "kwargs of 'big'" in line and "64 KiB limit" in line, line
    assert not (tmp_path / "o").exists()


def _records(tmp_path: Path) -> tuple[Path, Path]:
    """A records folder with one good group (settings.json, a part); (root, group folder)."""
    from bench.settings import dict_digest

    settings = {"class": "ElasticSettings"}
    group = tmp_path / "records" / "emt" / "elasticity" / "ds" / dict_digest(settings)
    record = {
        "model": "emt",
        "task": "elasticity",
        "dataset": "ds",
        "material_id": "mp-1",
        "settings_digest": group.name,
        "status": "failed",
        "run_id": "r",
        "created_at": "2026-01-01T00:00:00+00:00",
    }
    _write_part(group, [record], "part-2026-a")
    (group / "settings.json").write_text(json.dumps(settings))
    return tmp_path / "records", group


@pytest.mark.parametrize(
    "kind", ["fifo-part", "newlines", "one-line", "fifo-manifest", "fifo-settings"]
)
def test_a_records_folder_that_is_a_trap_is_one_line(kind, tmp_path):
    root, group = _records(tmp_path)
    part = group / "part-2026-b.jsonl.gz"
    if kind == "fifo-part":
        os.mkfifo(part)
        where, expect = part, "not a regular file"
    elif kind == "newlines":  # 5 MB holding 1 GiB of newlines
        _gzip_stream(part, b"\n" * 2**20, 2**30)
        where, expect = part, f"over the {bounded.PART_LINES:,}-line limit"
    elif kind == "one-line":  # 5 MB holding one line of 1 GiB
        _gzip_stream(part, b"a" * 2**20, 2**30)
        where, expect = part, f"{bounded.size_text(bounded.RECORD_LINE)} line limit"
    elif kind == "fifo-manifest":
        (group / "runs").mkdir()
        where = group / "runs" / "r.json"
        os.mkfifo(where)
        expect = "not a regular file"
    else:
        (group / "settings.json").unlink()
        os.mkfifo(group / "settings.json")
        where, expect = group / "settings.json", "not a regular file"
    if kind in ("newlines", "one-line"):
        assert part.stat().st_size < 8e6
    export = ["export", "--out", str(root), "--to", str(tmp_path / "r.csv")]
    for argv in (["summary", "--out", str(root)], *([export] if kind == "fifo-part" else [])):
        code, line = _attack(argv, tmp_path)
        assert code == 1 and str(where) in line, line
        assert expect in line, line


def test_a_pyproject_that_is_a_fifo_is_one_line(tmp_path):
    os.mkfifo(tmp_path / "pyproject.toml")
    code, line = _attack(["models"], tmp_path)
    assert code == 2 and "pyproject.toml" in line and "not a regular file" in line, line


def test_reference_data_files_are_read_within_their_limits(tmp_path, monkeypatch):
    from bench.datasets.mdr import read_yaml
    from bench.datasets.reference import MalformedReferenceError

    bomb = tmp_path / "mp-1.yaml.gz"
    _gzip_stream(bomb, b"#" * 2**20, 8 * 2**20)
    monkeypatch.setattr("bench.datasets.mdr.REFERENCE_DECOMPRESSED", 4 * 2**20)
    with pytest.raises(MalformedReferenceError, match=f"{bomb}: decompresses to over the 4 MiB"):
        read_yaml(bomb)
    fifo = tmp_path / "mp-2.yaml.xz"
    os.mkfifo(fifo)
    with pytest.raises(MalformedReferenceError, match="not a regular file"):
        read_yaml(fifo)
    aliases = tmp_path / "mp-3.yaml"
    aliases.write_text("a: &a [1, 2]\nb: *a\n")
    with pytest.raises(MalformedReferenceError, match="aliases"):
        read_yaml(aliases)


def test_the_safe_loader_reads_what_it_read_before():
    text = "a: [1, 2.5, x]\nb: {c: true, d: null}\ne: '2026-01-01'\n"
    assert bounded.load_yaml(text) == {
        "a": [1, 2.5, "x"],
        "b": {"c": True, "d": None},
        "e": "2026-01-01",
    }


def test_a_fifo_where_the_run_log_goes_is_one_line(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    os.mkfifo(out / "bench-run.log")
    code, line = _attack([*RUN, "--model", "emt", "--out", str(out)], tmp_path)
    assert code == 1 and f"{out / 'bench-run.log'}: not a regular file" in line, line


def test_a_baseline_file_that_is_a_fifo_is_one_line(tmp_path):
    os.mkfifo(tmp_path / "emt__phonons__mdr-smoke.json")
    code, line = _attack(["baseline", "check", "--dir", str(tmp_path)], tmp_path)
    assert code == 2 and "emt__phonons__mdr-smoke.json: not a regular file" in line, line


_HASH_PROBE = (
    "import sys\nfrom bench.models.checkpoints import file_sha256\n"
    "from bench.datasets.locate import sha256_of\nfrom pathlib import Path\n"
    "for name, call in (('checkpoint', file_sha256), ('data', lambda p: sha256_of(Path(p)))):\n"
    "    try:\n        call(sys.argv[1])\n    except Exception as err:\n"
    "        print(name, type(err).__name__, err)\n"
)


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "folder"])
def test_files_bench_hashes_are_regular_files_only(kind, tmp_path):
    """A checkpoint or reference file is hashed as a stream: a FIFO would block and
    /dev/zero never end; each is refused, naming the file, before it is read."""
    path = tmp_path / "weights.pt"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    else:
        path = Path("/dev/zero")
    done = subprocess.run(
        [sys.executable, "-c", _HASH_PROBE, str(path)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,  # an unbounded hash hangs: this ends it as a failure
        stdin=subprocess.DEVNULL,
    )
    lines = done.stdout.splitlines()
    assert [line.split()[:2] for line in lines] == [
        ["checkpoint", "ModelUnavailableError"],
        ["data", "DataNotFoundError"],
    ], done.stdout + done.stderr
    reason = "a folder, not a file" if kind == "folder" else "not a regular file"
    assert all(str(path) in line and reason in line for line in lines)


def test_a_kept_artifact_is_loaded_within_its_limits(tmp_path, monkeypatch):
    """A kept force-constants file may be anyone's: a zip bomb, a FIFO or a file that is no
    .npz is a ValueError naming it (the site notes it and goes on); a real one loads."""
    import numpy as np

    from bench import bounded_binary
    from bench.run.artifacts import load_artifact

    good = tmp_path / "fc.npz"
    np.savez_compressed(good, force_constants=np.zeros((64, 64, 3, 3)))
    assert load_artifact(good)["force_constants"].shape == (64, 64, 3, 3)
    monkeypatch.setattr(bounded_binary, "ARTIFACT_UNPACKED", 64 * 1024)  # 64*64*9 doubles: 295 kB
    with pytest.raises(ValueError, match=r"fc.npz: unpacks to 288\.\d KiB, over the 64 KiB limit"):
        load_artifact(good)
    fifo, text = tmp_path / "fifo.npz", tmp_path / "text.npz"
    os.mkfifo(fifo)
    text.write_text("not a zip")
    with pytest.raises(ValueError, match=r"fifo\.npz: not a regular file"):
        load_artifact(fifo)
    with pytest.raises(ValueError, match=r"text\.npz: not a readable \.npz file"):
        load_artifact(text)
