"""`python -m scripts.new_service NAME`, run in a copy of the repository, makes a complete service:
its rooms, settings and `__main__` import, it is in SERVICE_PORTS and the deploy list, deploy/ is
regenerated and passes its checks, ruff and mypy are content, and its own health test passes (the
new service starts, serves and stops). The skeleton services have every room too."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.new_service import MIGRATIONS, ROOMS
from services.kit.config import SERVICE_PORTS

ROOT = Path(__file__).resolve().parent.parent
COPIED = ("services", "scripts", "tests", "deploy", "gateway", "pyproject.toml")
NAME = "reports"


def run(copy: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """A command in the copy, which shadows the repository (the generated code is shared)."""
    env = {**os.environ, "PYTHONPATH": f"{copy}{os.pathsep}{ROOT / 'gen'}"}
    done = subprocess.run(
        [sys.executable, *args], cwd=copy, env=env, capture_output=True, text=True, timeout=300
    )
    if check:
        assert done.returncode == 0, f"{args}:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("repo")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=ignore)
        else:
            shutil.copy2(source, root / name)
    run(root, "-m", "scripts.new_service", NAME)
    return root


def test_the_scaffold_makes_every_room_settings_main_and_a_health_test(copy: Path) -> None:
    folder = copy / "services" / NAME
    for room in ROOMS:
        assert (folder / room / "__init__.py").is_file(), room
    assert (folder / MIGRATIONS).is_dir()
    for module in ("__init__.py", "__main__.py", "settings.py", "tests/test_health.py"):
        assert (folder / module).is_file(), module
    check = (
        "import importlib; from services.kit.config import SERVICE_PORTS;"
        f"app = importlib.import_module('services.{NAME}.__main__').app;"
        f"importlib.import_module('services.{NAME}.settings');"
        f"[importlib.import_module('services.{NAME}.' + r) for r in {sorted(ROOMS)!r}];"
        f"print(app.name, SERVICE_PORTS['{NAME}'])"
    )
    out = run(copy, "-c", check).stdout.split()
    assert out == [NAME, str(max(SERVICE_PORTS.values()) + 1)]


def test_the_scaffold_adds_one_line_to_each_list_and_regenerates_deploy(copy: Path) -> None:
    port = max(SERVICE_PORTS.values()) + 1
    listing = (copy / "deploy" / "services.yaml").read_text()
    assert f"  {NAME}: {{port: {port}}}\n" in listing
    original = (ROOT / "deploy" / "services.yaml").read_text().splitlines()
    assert len(listing.splitlines()) == len(original) + 1
    assert f'    "{NAME}": {port},' in (copy / "services" / "kit" / "config.py").read_text()
    assert (copy / "deploy" / "generated" / f"{NAME}.yaml").is_file()
    run(copy, "-m", "scripts.gen_deploy", "--check")
    run(copy, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_deploy.py")


def test_the_new_service_passes_ruff_and_mypy(copy: Path) -> None:
    run(copy, "-m", "ruff", "check", "--no-cache", f"services/{NAME}", "services/kit/config.py")
    run(copy, "-m", "ruff", "format", "--check", "--no-cache", f"services/{NAME}")
    run(copy, "-m", "mypy", f"services/{NAME}")


def test_the_new_service_passes_its_own_health_test(copy: Path) -> None:
    run(copy, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"services/{NAME}/tests")


def test_the_scaffold_refuses_an_existing_service_or_a_bad_name(copy: Path) -> None:
    for name in (NAME, "identity", "Bad-Name"):
        done = run(copy, "-m", "scripts.new_service", name, check=False)
        assert done.returncode != 0, name
    assert not run(copy, "-m", "scripts.new_service", "--rooms-only", NAME).stdout


@pytest.mark.parametrize("name", sorted(set(SERVICE_PORTS) - {"identity"}))
def test_every_skeleton_service_has_its_rooms(name: str) -> None:
    folder = ROOT / "services" / name
    for room in ROOMS:
        assert (folder / room / "__init__.py").is_file(), room
    assert (folder / MIGRATIONS).is_dir()
    assert (folder / "tests" / "test_health.py").is_file()
