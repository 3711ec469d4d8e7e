"""The house: which folder each import path lives in, what ships beside a checkpoint, who may import whom.

`modeling/`, `processing/` and `hub_scripts/` sit at the top of the repository and are installed as
`rs_retrieval.modeling`, `rs_retrieval.processing` and `rs_retrieval.hub_scripts` (pyproject.toml's `package-dir`);
every other import path `rs_retrieval.a.b` is the folder `rs_retrieval/a/b`. These tests keep that mapping the only
one, complete, and true in a built wheel.
"""

from __future__ import annotations

import ast
import importlib
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
MAPPED = {"rs_retrieval.modeling": "modeling", "rs_retrieval.processing": "processing",
          "rs_retrieval.hub_scripts": "hub_scripts"}
#: Copied beside every checkpoint by `save_pretrained` (tests/test_remote_code.py checks a saved folder).
SHIPPED_CODE = {
    "modeling": {"configuration_rs_dual_encoder.py", "modeling_rs_dual_encoder.py",
                 "contrastive_loss_rs_dual_encoder.py"},
    "processing": {"processing_rs_dual_encoder.py", "image_processing_rs_dual_encoder.py", "image_conversion.py",
                   "text_normalization.py"},
}


def package_folders() -> dict[str, Path]:
    """Every package on disk, by import path: rs_retrieval's folders, and the mapped top-level ones."""
    found = {"rs_retrieval": ROOT / "rs_retrieval"}
    for init in (ROOT / "rs_retrieval").rglob("__init__.py"):
        if "__pycache__" not in init.parts:
            found[".".join(init.parent.relative_to(ROOT).parts)] = init.parent
    found.update({name: ROOT / folder for name, folder in MAPPED.items()})
    return found


def source_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.py"))


def test_the_only_mapped_packages_are_the_three_top_level_folders():
    declared = {name: folder for name, folder in SETUPTOOLS["package-dir"].items() if name != "rs_retrieval"}
    assert declared == MAPPED
    assert SETUPTOOLS["package-dir"]["rs_retrieval"] == "rs_retrieval"


@pytest.mark.parametrize("name", sorted(MAPPED))
def test_a_mapped_import_path_is_its_top_level_folder_and_nothing_shadows_it(name):
    module = importlib.import_module(name)
    assert Path(module.__file__).resolve().parent == ROOT / MAPPED[name]
    assert not (ROOT / Path(*name.split("."))).exists(), f"{name} must live only in {MAPPED[name]}/"


def test_every_package_folder_is_declared_and_every_declared_package_exists():
    data_folders = {name for name, patterns in SETUPTOOLS["package-data"].items() if name != "rs_retrieval"}
    on_disk = set(package_folders()) | data_folders
    assert set(SETUPTOOLS["packages"]) == on_disk


def test_modeling_and_processing_hold_exactly_the_code_shipped_beside_a_checkpoint():
    for folder, shipped in SHIPPED_CODE.items():
        assert {p.name for p in source_files(ROOT / folder)} == shipped | {"__init__.py"}, folder


def test_shipped_files_import_only_their_siblings():
    """A checkpoint's code folder is flat: relative imports name a sibling, never a parent package."""
    for folder in SHIPPED_CODE:
        for path in source_files(ROOT / folder):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.level:
                    assert node.level == 1 and node.module, f"{path.name}: from {'.' * node.level}{node.module}"
                    assert (ROOT / folder / f"{node.module}.py").is_file(), f"{path.name}: .{node.module}"


def imported_modules(path: Path) -> set[str]:
    """Absolute names of everything a file imports (relative imports resolved against its own package)."""
    package = path.relative_to(ROOT).with_suffix("").parts[:-1]
    for name, folder in MAPPED.items():
        if package[:1] == (folder,):
            package = tuple(name.split(".")) + package[1:]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
            module = ".".join(part for part in (base, node.module or "") if part)
            names |= {module} | {f"{module}.{alias.name}" for alias in node.names}
    return names


def test_no_script_imports_another_script():
    for path in source_files(ROOT / "hub_scripts"):
        scripts = {n for n in imported_modules(path) if n.startswith(("rs_retrieval.hub_scripts", "hub_scripts"))}
        assert not scripts, f"hub_scripts/{path.name} imports {sorted(scripts)}"


@pytest.mark.parametrize("folder", ["tests", "benchmarks", ".ci"])
def test_tests_and_benchmarks_reach_scripts_only_through_the_command_line(folder):
    for path in sorted((ROOT / folder).rglob("*.py")):
        scripts = {n for n in imported_modules(path) if n.startswith(("rs_retrieval.hub_scripts", "hub_scripts"))}
        assert not scripts, f"{path.relative_to(ROOT)} imports {sorted(scripts)}"


def test_a_built_wheel_holds_every_source_file_under_its_import_path(tmp_path):
    # Built from a clean copy: setuptools reuses a source tree's build/ folder, which keeps files since removed.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv*", "build", "dist", "outputs", "*.egg-info", "__pycache__", ".pytest_cache", ".ruff_cache"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path), str(source)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("rs_retrieval-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        in_wheel = {name for name in archive.namelist() if not name.startswith("rs_retrieval-")}
    expected = set()
    for name, folder in package_folders().items():
        prefix = "/".join(name.split("."))
        expected |= {f"{prefix}/{p.name}" for p in source_files(folder)}
    for name, patterns in SETUPTOOLS["package-data"].items():
        folder = ROOT / Path(*name.split("."))
        prefix = "/".join(name.split("."))
        expected |= {f"{prefix}/{p.name}" for pattern in patterns for p in folder.glob(pattern) if p.is_file()}
    assert in_wheel == expected
