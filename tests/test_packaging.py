"""Packaging: the metadata, the extras against the code's optional imports, and the one-line missing-extra message.

The extras of pyproject.toml, `rs_retrieval.extras.MODULES_OF_EXTRA` / `EXTRA_OF_MODULE` / `EXTRA_OF_COMMAND` and the
imports of the code must agree: every optional import a command can reach is installed by that command's extra, and a
command run without it prints `pip install "rs-retrieval[EXTRA]"` in one line instead of a traceback.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
from functools import cache
from pathlib import Path

import pytest
import tomllib
from PIL import Image

from rs_retrieval import cli, extras
from rs_retrieval.data.synthetic import make_synthetic_dataset
from rs_retrieval.extras import EXTRA_OF_COMMAND, EXTRA_OF_MODULE, MODULES_OF_EXTRA

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]

#: Import name of each distribution the project declares (where the two differ, and only those).
MODULE_OF_DISTRIBUTION = {"pillow": "PIL", "pyyaml": "yaml", "faiss-cpu": "faiss", "scikit-learn": "sklearn",
                          "python-bidi": "bidi", "arabic-reshaper": "arabic_reshaper"}

#: Optional imports a command reaches outside its own extra, each on purpose:
#: tifffile is imported (by processing/image_conversion.py) only for a TIFF Pillow cannot read, and its own message
#: names rs-retrieval[data]; `search --grid` draws with the viz extra; push-model shares rs_retrieval.publishing with
#: push-dataset, whose dataset helpers import `datasets` inside the functions push-model never calls.
ALLOWED_OUTSIDE_EXTRA = {
    "*": {"tifffile"},
    "search": MODULES_OF_EXTRA["viz"] - MODULES_OF_EXTRA["index"],
    "push-model": {"datasets"},
}


def requirement_name(requirement: str) -> str:
    return re.split(r"[<>=!~\[;, ]", requirement, maxsplit=1)[0].lower()


def modules_of_requirements(requirements: list[str]) -> set[str]:
    """The import names a list of requirements installs, `rs-retrieval[x]` expanded."""
    modules = set()
    for requirement in requirements:
        name = requirement_name(requirement)
        if name == "rs-retrieval":
            for extra in re.search(r"\[(.*)\]", requirement).group(1).split(","):
                modules |= modules_of_requirements(PROJECT["optional-dependencies"][extra.strip()])
        else:
            modules.add(MODULE_OF_DISTRIBUTION.get(name, name.replace("-", "_")))
    return modules


CORE_MODULES = modules_of_requirements(PROJECT["dependencies"])


# -- metadata ---------------------------------------------------------------------------------------------------------


def test_metadata_declares_the_license_file_and_classifiers():
    assert PROJECT["license"] == "Apache-2.0"
    assert PROJECT["license-files"] == ["LICENSE"]
    assert "Apache License" in (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert (ROOT / "CHANGELOG.md").exists() and (ROOT / "CITATION.cff").exists()
    classifiers = set(PROJECT["classifiers"])
    for expected in ("Topic :: Scientific/Engineering :: Image Recognition", "Natural Language :: Arabic",
                     "Natural Language :: English", "Operating System :: OS Independent", "Typing :: Typed"):
        assert expected in classifiers
    assert {c for c in classifiers if c.startswith("Programming Language :: Python :: 3.")}
    # PEP 639: the SPDX expression replaces License classifiers, which setuptools>=77 refuses beside it.
    assert not any(c.startswith("License ::") for c in classifiers)
    assert any(requirement_name(r) == "setuptools" and ">=77" in r for r in PYPROJECT["build-system"]["requires"])


def test_py_typed_ships_with_the_package():
    import rs_retrieval

    assert (Path(rs_retrieval.__file__).parent / "py.typed").is_file()
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["rs_retrieval"]


def test_the_transformers_floor_is_the_one_the_floor_check_installs():
    floor = re.search(r"transformers>=([\d.]+)", " ".join(PROJECT["dependencies"])).group(1)
    pins = dict(line.split("==") for line in (ROOT / ".ci" / "floor-requirements.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    assert pins["transformers"].removesuffix(".0") == floor.removesuffix(".0")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert ".ci/transformers_floor.py" in makefile and "$(BIN)/ruff check ." in makefile


# -- extras against the mapping -------------------------------------------------------------------------------------


def test_extras_install_exactly_the_modules_the_error_mapping_names():
    extras = PROJECT["optional-dependencies"]
    assert set(extras) == set(MODULES_OF_EXTRA) | {"all", "test"}
    for extra, modules in MODULES_OF_EXTRA.items():
        assert modules_of_requirements(extras[extra]) == set(modules), extra
    assert modules_of_requirements(extras["all"]) == set().union(*MODULES_OF_EXTRA.values())
    assert {"pytest", "ruff"} <= modules_of_requirements(extras["test"])
    for module, extra in EXTRA_OF_MODULE.items():
        assert module in MODULES_OF_EXTRA[extra] and module not in CORE_MODULES, module
        smallest = min(len(m) for m in MODULES_OF_EXTRA.values() if module in m)
        assert len(MODULES_OF_EXTRA[extra]) == smallest, f"{module}: {extra} is not the smallest extra with it"
    assert set(EXTRA_OF_MODULE) == set().union(*MODULES_OF_EXTRA.values())


def test_the_train_extra_meets_the_accelerate_floor_of_the_installed_trainer():
    from transformers.utils.import_utils import ACCELERATE_MIN_VERSION

    for extra in ("train", "index"):
        floor = next(r for r in PROJECT["optional-dependencies"][extra] if requirement_name(r) == "accelerate")
        declared = tuple(int(p) for p in floor.split(">=")[1].split("."))
        assert declared >= tuple(int(p) for p in ACCELERATE_MIN_VERSION.split(".")), (extra, floor)


def test_every_command_has_an_extra_or_needs_only_the_core():
    assert set(EXTRA_OF_COMMAND) <= set(cli.COMMANDS)
    assert set(EXTRA_OF_COMMAND.values()) <= set(MODULES_OF_EXTRA) | {"all"}
    assert set(extras.REQUIRED_MODULES_OF_COMMAND) <= set(EXTRA_OF_COMMAND)


# -- extras against the code's imports ------------------------------------------------------------------------------


def _imports(tree: ast.AST, package: str | None, module_level_only: bool) -> list[str]:
    """Absolute names imported by a module (from ... import x gives both `m` and `m.x`); relative imports are
    resolved against `package`, or skipped where it is None."""
    nodes = tree.body if module_level_only else ast.walk(tree)
    if module_level_only:  # also the imports inside module-level if/try blocks
        nodes = [n for top in nodes if not isinstance(top, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                 for n in ast.walk(top)]
    names = []
    for node in nodes:
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level and package is None:
                continue
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names.append(module)
            names += [f"{module}.{alias.name}" for alias in node.names]
        elif (not module_level_only and isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            names.append(node.args[0].value)
    return names


@cache
def _parsed(name: str) -> tuple[ast.AST, str] | None:
    """The syntax tree and package of a module of rs_retrieval (found wherever pyproject maps it), or None."""
    try:
        spec = importlib.util.find_spec(name)
    except (ModuleNotFoundError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    package = name if spec.submodule_search_locations is not None else name.rpartition(".")[0]
    return ast.parse(Path(spec.origin).read_text(encoding="utf-8")), package


def optional_imports_of(module: str, module_level_only: bool) -> dict[str, str]:
    """Optional top-level modules (EXTRA_OF_MODULE) reachable from `module` through rs_retrieval's imports -> the
    rs_retrieval module that imports each."""
    seen, todo, found = set(), [module], {}
    while todo:
        parts = todo.pop().split(".")
        for end in range(1, len(parts) + 1):  # importing a.b.c runs a and a.b first
            name = ".".join(parts[:end])
            if name in seen or (parsed := _parsed(name)) is None:
                continue
            seen.add(name)
            tree, package = parsed
            for imported in _imports(tree, package, module_level_only):
                top = imported.split(".")[0]
                if top in EXTRA_OF_MODULE:
                    found.setdefault(top, name)
                elif top == "rs_retrieval":
                    todo.append(imported)
    return found


@pytest.mark.parametrize("name", sorted(cli.COMMANDS))
def test_importing_a_command_needs_only_its_extra(name):
    """What `rs-retrieval NAME --help` imports: module-level imports only."""
    extra = EXTRA_OF_COMMAND.get(name)
    allowed = set(EXTRA_OF_MODULE) if extra == "all" else set(MODULES_OF_EXTRA.get(extra, ()))
    found = optional_imports_of(cli.COMMANDS[name][0], module_level_only=True)
    assert {m: where for m, where in found.items() if m not in allowed} == {}, f"{name} (extra {extra})"


@pytest.mark.parametrize("name", sorted(cli.COMMANDS))
def test_every_optional_import_a_command_reaches_is_in_its_extra(name):
    """Module-level and lazy imports (inside functions) alike."""
    extra = EXTRA_OF_COMMAND.get(name)
    allowed = set(EXTRA_OF_MODULE) if extra == "all" else set(MODULES_OF_EXTRA.get(extra, ()))
    allowed |= ALLOWED_OUTSIDE_EXTRA["*"] | ALLOWED_OUTSIDE_EXTRA.get(name, set())
    found = optional_imports_of(cli.COMMANDS[name][0], module_level_only=False)
    assert {m: where for m, where in found.items() if m not in allowed} == {}, f"{name} (extra {extra})"


def test_every_third_party_import_of_the_package_is_declared():
    """A scan of rs_retrieval/, hub_scripts/, modeling/ and processing/: each import is the standard library, the
    package, a core dependency or an optional module of an extra."""
    undeclared = {}
    for folder in ("rs_retrieval", "hub_scripts", "modeling", "processing"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for name in _imports(ast.parse(path.read_text(encoding="utf-8")), None, module_level_only=False):
                top = name.split(".")[0]
                if top and top not in sys.stdlib_module_names and top not in CORE_MODULES | set(EXTRA_OF_MODULE) | {
                        "rs_retrieval", "modeling", "processing", "hub_scripts"}:
                    undeclared.setdefault(top, str(path.relative_to(ROOT)))
    assert undeclared == {}


# -- a command run without its extra --------------------------------------------------------------------------------


def hide(monkeypatch, *modules: str) -> None:
    """Make `import MODULE` (and its submodules) raise ModuleNotFoundError, as if it were not installed."""
    for name in list(sys.modules):
        if name.split(".")[0] in modules:
            monkeypatch.setitem(sys.modules, name, None)
    for module in modules:
        monkeypatch.setitem(sys.modules, module, None)


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if ": error: " in line]
    assert len(lines) == 1 and err.rstrip().endswith(lines[0]), err
    return lines[0]


@pytest.fixture(scope="module")
def world(tmp_path_factory, tiny_checkpoint) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("packaging")
    make_synthetic_dataset(splits={"train": 1, "test": 1}, image_size=32).save_to_disk(str(root / "data"))
    (root / "images").mkdir()
    for n in range(2):
        Image.new("RGB", (32, 32), (60 * n, 90, 160)).save(root / "images" / f"tile_{n}.png")
    return {"model": tiny_checkpoint, "data": root / "data", "images": root / "images", "root": root}


def test_cli_names_the_extra_when_a_command_module_cannot_be_imported(monkeypatch, capsys):
    hide(monkeypatch, "datasets")
    monkeypatch.delitem(sys.modules, "rs_retrieval.hub_scripts.build_dataset", raising=False)
    assert cli.main(["build-dataset", "--help"]) == 1
    line = one_error_line(capsys)
    assert line.startswith("rs-retrieval build-dataset: error: ") and 'pip install "rs-retrieval[data]"' in line


@pytest.mark.parametrize("checked_first", [True, False], ids=["checked-before-the-run", "lazy-import"])
def test_index_without_faiss_names_the_index_extra(world, monkeypatch, capsys, tmp_path, checked_first):
    from commands import index

    if not checked_first:  # the run reaches its lazy `import faiss`
        monkeypatch.setitem(extras.REQUIRED_MODULES_OF_COMMAND, "index", ())
    hide(monkeypatch, "faiss")
    argv = ["--model", str(world["model"]), "--images", str(world["images"]), "--out", str(tmp_path / "index"),
            "--no-progress"]
    assert index.main(argv) == 1
    line = one_error_line(capsys)
    assert "'faiss'" in line and line.endswith('pip install "rs-retrieval[index]"'), line


def test_index_without_accelerate_names_the_index_extra_not_train(world, monkeypatch, capsys, tmp_path):
    from commands import index

    hide(monkeypatch, "accelerate")
    assert index.main(["--model", str(world["model"]), "--images", str(world["images"]),
                       "--out", str(tmp_path / "index")]) == 1
    assert one_error_line(capsys).endswith('pip install "rs-retrieval[index]"')


def train_argv(world, tmp_path) -> list[str]:
    return ["--dataset", str(world["data"]), "--output_dir", str(tmp_path / "out"), "--image_size", "32",
            "--max_steps", "1", "--per_device_train_batch_size", "4", "--disable_tqdm", "true", "--report_to", "none",
            "--eval_strategy", "no", "--save_strategy", "no", "--load_best_model_at_end", "false"]


def test_train_without_accelerate_names_the_train_extra(world, monkeypatch, capsys, tmp_path):
    """accelerate is imported by the transformers Trainer, not by our code: checked before the run starts."""
    from commands import train

    hide(monkeypatch, "accelerate")
    assert train.main(train_argv(world, tmp_path)) == 1
    line = one_error_line(capsys)
    assert line.startswith("rs-retrieval train: error: ") and "'accelerate'" in line
    assert line.endswith('pip install "rs-retrieval[train]"')


def test_train_without_datasets_names_the_train_extra_from_its_lazy_import(world, monkeypatch, capsys, tmp_path):
    from commands import train

    monkeypatch.setitem(extras.REQUIRED_MODULES_OF_COMMAND, "train", ())
    hide(monkeypatch, "datasets")
    assert train.main(train_argv(world, tmp_path)) == 1
    assert one_error_line(capsys).endswith('pip install "rs-retrieval[train]"')


def test_visualize_without_matplotlib_names_the_viz_extra(world, monkeypatch, capsys, tmp_path):
    from commands import visualize

    source = world["images"] / "tile_0.png"
    hide(monkeypatch, "matplotlib")
    assert visualize.main(["attention", "--model", str(world["model"]), "--image", str(source),
                           "--out", str(tmp_path / "attention.png")]) == 1
    line = one_error_line(capsys)
    assert "'matplotlib'" in line and line.endswith('pip install "rs-retrieval[viz]"'), line


def test_search_grid_without_matplotlib_names_the_viz_extra():
    assert extras.extra_for("matplotlib", "rs-retrieval search") == "viz"
    assert extras.extra_for("faiss", "rs-retrieval search") == "index"
    assert extras.extra_for("datasets", "rs-retrieval index") == "index"
    assert extras.extra_for("accelerate", "rs-retrieval train") == "train"
    assert extras.extra_for("accelerate", "rs-retrieval push-model") == "train"
    assert extras.extra_for("sklearn", "rs-retrieval demo") == "all"
    assert extras.extra_for("torch", "rs-retrieval index") is None


def test_help_does_not_need_the_required_modules(monkeypatch, capsys):
    from commands import index

    hide(monkeypatch, "faiss")
    with pytest.raises(SystemExit) as exit_info:
        index.main(["--help"])
    assert exit_info.value.code == 0
    assert "--images" in capsys.readouterr().out
