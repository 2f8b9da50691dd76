"""The package as a user installs it: a wheel, installed outside the checkout, runs and imports.

How the test stays honest and fast. It copies ``pyproject.toml``, ``README.md`` and ``src/`` to a temporary
folder and builds a wheel there (``pip wheel --no-deps``), creates a fresh virtual environment in another
temporary folder (without system site packages) and installs the wheel into it with ``--no-deps``.
Installing socialsim's dependencies from the index would take minutes, so the venv reaches the
dependencies of the Python running the tests through one ``.pth`` line naming that Python's site-packages.
Python reads ``.pth`` files only in its own site directories, not in folders a ``.pth`` line adds, so the
checkout's editable install (itself a ``.pth`` file in that site-packages) stays invisible: ``socialsim``
can only come from the wheel. Every command runs from a temporary folder with PYTHONPATH unset, and the
test asserts that ``socialsim.__file__`` lies inside the venv. That the wheel declares what it imports is
checked separately and statically: every third-party module imported anywhere in ``src/socialsim`` belongs
to a distribution that the wheel's metadata requires (in its core dependencies or in an extra).
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "socialsim"

pytestmark = pytest.mark.slow


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a copy of the checkout (the build leaves nothing in the checkout)."""
    tree = tmp_path_factory.mktemp("tree")
    shutil.copy(ROOT / "pyproject.toml", tree)
    shutil.copy(ROOT / "README.md", tree)
    shutil.copytree(ROOT / "src", tree / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.nbi",
                                                                               "*.nbc"))
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(tree)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (path,) = out.glob("socialsim-*.whl")
    return path


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> tuple[Path, dict]:
    """(python of a fresh venv holding the wheel, environment to run it in)."""
    home = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=False, system_site_packages=False).create(home)
    python = home / "bin" / "python"
    site = Path(subprocess.check_output([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                        text=True).strip())
    # the dependencies of the Python running the tests, without the checkout (see the module docstring)
    deps = [p for p in {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")} if Path(p).is_dir()]
    (site / "socialsim_test_dependencies.pth").write_text("".join(f"{p}\n" for p in deps))
    proc = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q",
                           str(wheel)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HYDRA_FULL_ERROR", "VIRTUAL_ENV")}
    env["PYTHONWARNINGS"] = "ignore"
    return python, env


def test_the_wheel_ships_configs_and_type_marker(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {n.removeprefix("socialsim/conf/") for n in names if n.startswith("socialsim/conf/")}
    in_tree = {str(p.relative_to(SRC / "conf")) for p in (SRC / "conf").rglob("*.yaml")}
    assert in_tree and shipped == in_tree
    assert "socialsim/py.typed" in names


def test_the_wheel_declares_every_import(wheel):
    """Every third-party module imported in src/socialsim comes from a distribution the wheel requires."""
    metadata = next(n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert re.search(r"^License-Expression: MIT$", text, re.M)
    required = {_normal(re.split(r"[ ;<>=!~\[(]", line.removeprefix("Requires-Dist: "))[0])
                for line in text.splitlines() if line.startswith("Requires-Dist: ")}
    imported: set[str] = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
            elif (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "require" and node.args
                  and isinstance(node.args[0], ast.Constant)):  # socialsim.extras.require("powerlaw", ...)
                imported.add(node.args[0].value.split(".")[0])
    third_party = {m for m in imported if m not in sys.stdlib_module_names and m not in ("socialsim", "__future__")}
    dists = packages_distributions()
    # a module counts as declared when a required distribution provides it or is named like it (``solara``
    # is a distribution that installs ``solara-ui``, which provides the module)
    undeclared = {m: dists.get(m) for m in third_party
                  if not ({_normal(d) for d in dists.get(m, [])} | {_normal(m)}) & required}
    assert not undeclared, f"imported but not in pyproject.toml's dependencies: {undeclared}"


def test_installed_wheel_runs_outside_the_checkout(installed, tmp_path):
    python, env = installed
    where = subprocess.run([str(python), "-c", "import socialsim, sys; print(socialsim.__file__)"], cwd=tmp_path,
                           env=env, capture_output=True, text=True, timeout=120)
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(python.parents[1]), where.stdout
    assert not Path(where.stdout.strip()).is_relative_to(ROOT)

    run = subprocess.run([str(python), "-m", "socialsim", "run.steps=5", "population.size=100"], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    out = Path(run.stdout.splitlines()[-1].removeprefix("output: "))
    folder = out if out.is_absolute() else tmp_path / out
    assert folder.is_relative_to(tmp_path) and (folder / "summary.json").is_file()

    viz = subprocess.run([str(python), "-m", "socialsim.viz", "--help"], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=120)
    assert viz.returncode == 0 and "usage" in viz.stdout.lower(), viz.stdout + viz.stderr


def test_every_module_imports_from_the_installed_wheel(installed, tmp_path):
    python, env = installed
    code = (
        "import importlib, pkgutil, socialsim\n"
        "names = [m.name for m in pkgutil.walk_packages(socialsim.__path__, 'socialsim.')]\n"
        "for name in names:\n"
        "    module = importlib.import_module(name)\n"
        "    assert module.__file__.startswith(socialsim.__path__[0]), module.__file__\n"
        "print(len(names))\n"
    )
    proc = subprocess.run([str(python), "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    expected = {p.stem for p in SRC.rglob("*.py") if p.stem != "__init__"}
    assert int(proc.stdout.split()[-1]) >= len(expected)


def test_a_missing_optional_library_names_its_extra(monkeypatch):
    from socialsim import extras

    monkeypatch.setitem(sys.modules, "powerlaw", None)  # as if not installed
    with pytest.raises(extras.MissingExtra, match=r"pip install 'socialsim\[study\]'"):
        extras.require("powerlaw", "study", "a power-law fit")
