"""Helpers to run the Snakemake workflow as a user would, in a scratch copy of the repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def copy_workflow(dest: Path) -> Path:
    """Copy what a user's clone holds of the workflow (Snakefile, workflow/, config/, profiles/)."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ROOT / "Snakefile", dest / "Snakefile")
    for sub in ("workflow", "config", "profiles"):
        if (ROOT / sub).exists():
            shutil.copytree(ROOT / sub, dest / sub, symlinks=False, dirs_exist_ok=True)
    return dest


def env(extra_path: Path | None = None) -> dict[str, str]:
    """The environment of a user who activated the virtual environment."""
    e = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    paths = [str(Path(sys.executable).parent)]
    if extra_path is not None:
        paths.insert(0, str(extra_path))
    e["PATH"] = os.pathsep.join(paths + [e.get("PATH", "")])
    return e


def snakemake(workdir: Path, *args: str, timeout: int = 1800, extra_path: Path | None = None,
              check: bool = True) -> subprocess.CompletedProcess:
    cmd = [str(Path(sys.executable).parent / "snakemake"), *args]
    proc = subprocess.run(cmd, cwd=workdir, env=env(extra_path), capture_output=True, text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        logs = ""
        for log in sorted((workdir / "logs").rglob("*.log")) if (workdir / "logs").exists() else []:
            logs += f"\n--- {log.relative_to(workdir)}\n{log.read_text()[-3000:]}"
        raise AssertionError(
            f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-6000:]}\n"
            f"{proc.stderr[-6000:]}{logs}"
        )
    return proc
