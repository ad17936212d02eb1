"""Headless Chromium on the static site: the DOM after the page's scripts ran, screenshots.

Drives the system browser (Debian's ``chromium``; ``apt-get install chromium``) with its own
command-line switches, no driver library. ``python -m bench.report.browser SITE`` writes the
three screenshots of ``SITE/README.md``: the index, a parity plot and a material page.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.terminal import echo

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: virtual time the page may use before the DOM or the picture is taken (ms): plotly draws
#: in well under a second here
BUDGET_MS = 10000


def find_chromium() -> str | None:
    """Path of a Chromium-family browser on PATH, or None."""
    return next((p for name in CANDIDATES if (p := shutil.which(name))), None)


def _run(browser: str, args: list[str], timeout_s: float) -> str:
    with tempfile.TemporaryDirectory(prefix="bench-chromium-") as profile:
        command = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--no-first-run",
            f"--user-data-dir={profile}",
            f"--virtual-time-budget={BUDGET_MS}",
            *args,
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    if done.returncode != 0:
        raise RuntimeError(f"{browser} exited {done.returncode}: {done.stderr[-500:]}")
    return done.stdout


def dump_dom(
    page: Path,
    browser: str | None = None,
    timeout_s: float = 120.0,
    size: tuple[int, int] = (1400, 1000),
) -> str:
    """The page's DOM (HTML) after its scripts ran, in a window of ``size`` pixels."""
    browser = browser or find_chromium()
    if browser is None:
        raise FileNotFoundError("no chromium binary on PATH")
    args = [f"--window-size={size[0]},{size[1]}", "--dump-dom", Path(page).resolve().as_uri()]
    return _run(browser, args, timeout_s)


def screenshot(
    page: Path,
    png: Path,
    size: tuple[int, int] = (1400, 1000),
    browser: str | None = None,
    timeout_s: float = 120.0,
) -> Path:
    """A PNG of the page's first ``size`` pixels (width, height)."""
    browser = browser or find_chromium()
    if browser is None:
        raise FileNotFoundError("no chromium binary on PATH")
    args = [f"--window-size={size[0]},{size[1]}", f"--screenshot={Path(png).resolve()}"]
    _run(browser, [*args, Path(page).resolve().as_uri()], timeout_s)
    return Path(png)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report.browser")
    parser.add_argument("site", type=Path, help="site folder (bench report --out)")
    parser.add_argument("--parity", default="full/chgnet-0.3.0__K_GPa", help="parity page")
    parser.add_argument("--material", default="mdr-pbe/mp-1000", help="dataset/material id")
    args = parser.parse_args(argv)
    shots = {
        "index.png": (args.site / "index.html", (1400, 1400)),
        "parity.png": (args.site / "parity" / f"{args.parity}.html", (900, 900)),
        "material.png": (args.site / "materials" / f"{args.material}.html", (1400, 1150)),
    }
    for name, (page, size) in shots.items():
        echo(screenshot(page, args.site / name, size))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
