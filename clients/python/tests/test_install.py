"""The package installs offline (pip --no-build-isolation --no-index) into a throwaway venv
that sees Debian's packages, and imports from there with its type marker."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from conftest import REPO

PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


def run(args, cwd, env):
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{args}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_pip_installs_the_package_offline_into_a_venv(tmp_path):
    # A copy, so the in-tree build (build/, *.egg-info) never lands in the work tree.
    source = tmp_path / "src"
    shutil.copytree(REPO / "clients/python", source, ignore=shutil.ignore_patterns("tests", "build", "*.egg-info",
                                                                                   "__pycache__"))
    venv = tmp_path / "venv"
    run([PYTHON, "-m", "venv", "--system-site-packages", str(venv)], tmp_path, os.environ.copy())
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update({"PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONNOUSERSITE": "1"})
    env.pop("PYTHONPATH", None)
    python = str(venv / "bin/python")
    run([python, "-m", "pip", "install", "--no-build-isolation", "--no-index", str(source)], tmp_path, env)

    probe = ("import importlib.resources, sys, permiso_client, permiso_client.fastapi;"
             "print(permiso_client.__file__);"
             "print(permiso_client.__version__);"
             "print(importlib.resources.files('permiso_client').joinpath('py.typed').is_file());"
             "print(sys.prefix)")
    out = run([python, "-c", probe], tmp_path, env).split()
    assert out[0].startswith(str(venv)), out  # imported from the venv, not the source tree
    assert out[1:3] == ["0.1.0", "True"]
    shown = run([python, "-m", "pip", "show", "permiso-client"], tmp_path, env)
    assert "Requires: httpx" in shown
