"""Workers in a model family's own Python environment (``python -m bench.run.remote``),
for families whose pins clash with the main environment (bench/models/envs.py)."""

from __future__ import annotations

import importlib.util
import json
import os
import queue
import re
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.errors import BenchBugError, ConfigurationError, ModelUnavailableError
from bench.models import resolve
from bench.models.envs import env_python
from bench.models.ownenv import check_python
from bench.models.spec import ModelSpec
from bench.run.config import Job, RunConfig
from bench.run.gpus import worker_device, worker_envs
from bench.run.threads import thread_env
from bench.tasks import worker_died_record


def worker_python(spec: ModelSpec) -> str | None:
    """The family environment's interpreter when the model cannot be imported here (or the
    ``python`` a models-file entry names), else None."""
    if spec.options.get("python"):
        python = str(spec.options["python"])
        if not (os.path.isfile(python) and os.access(python, os.X_OK)):
            check_python(python, spec)  # one line: it does not exist, and how to make one
        return python
    if spec.env == "main" or importlib.util.find_spec(spec.package) is not None:
        return None
    python = env_python(spec.env)
    if python is None:
        raise ConfigurationError(f"{spec.key} needs its environment: bench env create {spec.env}")
    return str(python)


def execute_remote(
    config: RunConfig, job: Job, python: str, model: str, ids: list[str], threads: int
) -> Iterator[dict[str, Any]]:
    """Like the local pool, with ``python -m bench.run.remote`` workers in another environment.

    Each worker loads the model once and exchanges JSON lines; its stderr goes to
    ``<out>/workers/<model>-<n>.log``. Each worker has one material at a time, so one that
    dies is that material's ``WorkerDied`` record and a fresh worker goes on; a model that
    fails to load stops the run (ConfigurationError), as a bug does (BenchBugError).
    """
    slots = _Slots(config, job, python, model, ids, threads)
    try:
        for n in range(max(1, min(config.workers, len(ids)))):
            threading.Thread(target=slots.serve, args=(n,), daemon=True).start()
        for _ in ids:
            yield _record(slots.results.get(), model, job)
    finally:
        slots.stop()


def _record(message: tuple[str, Any], model: str, job: Job) -> dict[str, Any]:
    """A worker slot's message as a record, or the error that stops the run."""
    kind, payload = message
    if kind == "fatal":
        raise ModelUnavailableError(str(payload))
    if kind == "died":
        material_id, log = payload
        how = f"(log: {log})"
        return worker_died_record(model, job.task, job.dataset, material_id, job.settings, how)
    if "error" in payload and "status" not in payload:
        raise BenchBugError(f"worker: {payload['error']}")
    return payload


def _hello(line: str, log: Path, timeout_s: float) -> dict[str, Any]:
    """A worker's first line: ``{"ready": true}`` or ``{"error": ...}``; nothing (it died, or
    did not answer within ``timeout_s``) or not JSON is an error naming its log."""
    if not line.strip():
        return {"error": f"no answer within {timeout_s:g} s, or it ended; see {log}"}
    try:
        ready = json.loads(line)
    except ValueError:
        ready = None
    if not isinstance(ready, dict):
        return {"error": f"not bench's worker (it wrote {line[:80]!r}); see {log}"}
    return ready


class _Slots:
    """Worker slots fed from one queue of materials; results go to ``results`` as
    ``("record", record)``, ``("died", (material_id, log))`` or ``("fatal", message)``."""

    def __init__(
        self, config: RunConfig, job: Job, python: str, model: str, ids: list[str], threads: int
    ) -> None:
        self.log_dir = Path(config.out_dir) / "workers"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.command = [python, "-m", "bench.run.remote", "--model", model]
        self.command += ["--threads", str(threads)]
        for flag, value in (
            ("--device", worker_device(config)),
            ("--dtype", job.model_dtype),
            ("--checkpoint", config.checkpoint),
        ):
            if value:
                self.command += [flag, str(value)]
        self.env = {**os.environ, **thread_env(threads)}
        self.gpu_envs = worker_envs(config, max(1, min(config.workers, len(ids)))) or [{}]
        self.model, self.python, self.job = model, python, job.to_json()
        self.log_name = re.sub(r"[^A-Za-z0-9@._+-]", "_", resolve(model).key)
        self.todo: queue.Queue[str] = queue.Queue()
        for material_id in ids:
            self.todo.put(material_id)
        self.results: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.procs: list[subprocess.Popen] = []
        self.load_timeout_s = config.load_timeout_s

    def start(self, n: int) -> tuple[subprocess.Popen, Path]:
        """A fresh worker process for slot ``n`` and its log file."""
        log = self.log_dir / f"{self.log_name}-{n}.log"
        proc = subprocess.Popen(
            self.command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(log, "a"),  # noqa: SIM115 (closed with the process)
            text=True,
            env={**self.env, **self.gpu_envs[n % len(self.gpu_envs)]},  # its GPU, if any
        )
        self.procs.append(proc)
        return proc, log

    def serve(self, n: int) -> None:
        """Feed slot ``n``; a worker that cannot start, load or talk stops the run in one
        line (never a thread's traceback and a run that waits for ever)."""
        try:
            self._serve(n)
        except Exception as err:
            message = f"{self.log_name} in {self.python}: {type(err).__name__}: {err}"
            self.results.put(("fatal", message))

    def _serve(self, n: int) -> None:
        """Feed slot ``n``; a worker that dies on a material is that material's failure, and
        a fresh worker takes the slot's remaining work."""
        while True:
            try:
                proc, log = self.start(n)
            except OSError as err:  # no such interpreter, not executable
                message = f"cannot start {self.python} for {self.log_name}: {err.strerror or err}"
                self.results.put(("fatal", message))
                return
            assert proc.stdin is not None and proc.stdout is not None
            late = threading.Timer(self.load_timeout_s, proc.kill)  # a load that never ends
            late.start()
            hello = proc.stdout.readline()
            late.cancel()
            ready = _hello(hello, log, self.load_timeout_s)
            if "error" in ready:
                message = f"{self.log_name} failed to load in {self.python}: {ready['error']}"
                self.results.put(("fatal", message))
                return
            if self._feed(proc, log):
                return

    def _feed(self, proc: subprocess.Popen, log: Path) -> bool:
        """Send materials to ``proc`` until the queue is empty (True) or it dies (False)."""
        assert proc.stdin is not None and proc.stdout is not None
        while True:
            try:
                material_id = self.todo.get_nowait()
            except queue.Empty:
                proc.stdin.close()
                return True
            proc.stdin.write(json.dumps({**self.job, "material_id": material_id}) + "\n")
            proc.stdin.flush()
            line = proc.stdout.readline()
            if not line:
                self.results.put(("died", (material_id, log)))
                proc.wait()
                return False
            self.results.put(("record", json.loads(line)))

    def stop(self) -> None:
        """Kill the workers still running."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
