"""The distribution installs one top-level name, ``ragpoison``, with every source folder under it."""

import subprocess
import sys
import tomllib
import zipfile
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE_FOLDERS = {"rag": "ragpoison.rag", "poisoning": "ragpoison.poisoning", "eval": "ragpoison.eval",
                  "corpora": "ragpoison.corpora"}


def _setuptools() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_source_package_is_listed_under_ragpoison():
    listed = set(_setuptools()["packages"])
    found = {"ragpoison"}
    for folder, name in SOURCE_FOLDERS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((name, *parts)))
    assert found == listed
    assert {key: value for key, value in _setuptools()["package-dir"].items() if key != "ragpoison"} == {
        name: folder for folder, name in SOURCE_FOLDERS.items()}


def test_installed_distribution_names_only_ragpoison():
    assert metadata.distribution("ragpoison").read_text("top_level.txt").split() == ["ragpoison"]
    assert [e.value for e in metadata.entry_points(group="pytest11") if e.name == "ragpoison"] == [
        "ragpoison.eval.pytest_plugin"]


def test_pytest_plugin_loads_through_its_entry_point(request, ragpoison_gate):
    # Nothing in this repository's conftest names the plugin: the fixture comes from the pytest11 entry point.
    assert request.config.pluginmanager.has_plugin("ragpoison")
    assert callable(ragpoison_gate)
    assert "pytest_plugins" not in (ROOT / "tests" / "conftest.py").read_text()


def _python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_imports_from_outside_the_checkout(tmp_path):
    ok = _python("import ragpoison.rag, ragpoison.eval, ragpoison.poisoning, ragpoison.corpora; "
                 "print(ragpoison.corpora.bundled()['corpus'].is_dir())", tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "True"
    for bare in ("rag", "poisoning", "eval", "corpora"):
        failed = _python(f"import {bare}", tmp_path)
        assert failed.returncode != 0 and "ModuleNotFoundError" in failed.stderr, bare


def test_python_dash_m_ragpoison(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "ragpoison", "list", "defenses"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "provenance" in proc.stdout


def test_wheel_holds_one_top_level_package_with_its_data(tmp_path):
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            str(ROOT), "-w", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr
    (wheel,) = tmp_path.glob("ragpoison-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/")[0] for name in names} == {"ragpoison", wheel.name.split("-py3")[0] + ".dist-info"}
    for expected in ("ragpoison/py.typed", "ragpoison/__main__.py", "ragpoison/rag/registry.py",
                     "ragpoison/poisoning/attacks/base.py", "ragpoison/eval/cli.py",
                     "ragpoison/corpora/clinical_mini/benchmark.json"):
        assert expected in names
