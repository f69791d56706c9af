"""Scaffolds a service: `python -m scripts.new_service NAME [--port N]`.

Creates services/NAME/ with its rooms (api · domain · store · events · jobs · clients ·
migrations · tests), a settings module, `__main__.py` registering it with the kit's ServiceApp and
a health test; adds it to SERVICE_PORTS (services/kit/config.py) and to the deploy list
(deploy/services.yaml), then regenerates deploy/. `--rooms-only` adds just the missing rooms (and
the health test) to a service that exists."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from scripts import gen_deploy

ROOT = Path(__file__).resolve().parent.parent
NAME = re.compile(r"[a-z][a-z0-9]{1,29}")  # a Python package, a DNS label and an env-name part

# Room -> what its package docstring says it holds (`{name}` is the service).
ROOMS: dict[str, str] = {
    "api": "{name}'s servicers: thin, proto in → domain → proto out (access comes from the proto).",
    "domain": "{name}'s use cases over a unit of work; its pure rules stay I/O-free.",
    "store": "{name}'s SQL: one module per table group, typed results.",
    "events": "{name}'s consumers of other services' events (durable, idempotent).",
    "jobs": (
        "{name}'s periodic work, handed to ServiceApp(jobs=...) as kit PeriodicJobs (none yet)."
    ),
    "clients": "What {name} calls: other services over gRPC, outside providers.",
    "tests": "Unit tests of {name}'s domain and store; end-to-end tests live in tests/ at the top.",
}
MIGRATIONS = "migrations"  # NNNN_description.sql files; no package

SETTINGS = '''"""{title}'s settings, read and validated once at start (`ServiceApp` loads them)."""

from __future__ import annotations

from dataclasses import dataclass

from services.kit.config import ServiceSettings


@dataclass(frozen=True, kw_only=True)
class {cls}Settings(ServiceSettings):
    """The common settings only, for now: the issue that builds {name} adds its fields and
    a `load()` (see services/identity/settings.py)."""
'''

MAIN = '''"""Runs the {name} service: `python -m services.{name}`.

Its schema, role, outbox relay and health are live; its RPCs come with the issue that builds it."""

from __future__ import annotations

{first_party_imports}


def servicers(ctx: ServiceContext[{cls}Settings]) -> list[object]:
    """Every servicer {name} answers; the kit registers each through its generated base."""
    return []  # e.g. LabelsApi(ctx.db) from api/, once proto/plixa/{name}/v1/ declares the RPCs


app = ServiceApp("{name}", settings={cls}Settings, servicers=servicers)

if __name__ == "__main__":
    app.main()
'''

HEALTH_TEST = '''"""{name} alone: SERVING on the health check, a clean stop on SIGTERM."""

from __future__ import annotations

from tests.health import assert_serves_health_and_stops_cleanly


def test_{name}_serves_health_and_stops_cleanly() -> None:
    assert_serves_health_and_stops_cleanly("{name}")
'''


def fill(template: str, name: str) -> str:
    cls = name.capitalize()
    imports = [  # in isort's order, which depends on the name
        f"from services.{name}.settings import {cls}Settings",
        "from services.kit.server import ServiceApp, ServiceContext",
    ]
    return template.format(
        name=name, title=cls, cls=cls, first_party_imports="\n".join(sorted(imports))
    )


def write_new(path: Path, text: str, made: list[Path]) -> None:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        made.append(path)


def add_rooms(root: Path, name: str) -> list[Path]:
    """The rooms a service lacks, each a package saying what it holds, and its health test."""
    folder = root / "services" / name
    made: list[Path] = []
    for room, purpose in ROOMS.items():
        write_new(folder / room / "__init__.py", f'"""{purpose.format(name=name)}"""\n', made)
    if not any((folder / MIGRATIONS).glob("*")):
        write_new(folder / MIGRATIONS / ".gitkeep", "", made)
    write_new(folder / "tests" / "test_health.py", fill(HEALTH_TEST, name), made)
    return made


def add_port(root: Path, name: str, port: int) -> None:
    """Appends the service to SERVICE_PORTS in services/kit/config.py."""
    config = root / "services" / "kit" / "config.py"
    text = config.read_text()
    table = re.search(r"SERVICE_PORTS: dict\[str, int\] = \{\n(?:    .*\n)*?\}", text)
    if table is None:
        raise SystemExit(f"{config}: SERVICE_PORTS table not found")
    entry = f'    "{name}": {port},\n'
    end = table.end() - 1  # the closing brace
    config.write_text(text[:end] + entry + text[end:])


def add_to_deploy_list(root: Path, name: str, port: int) -> None:
    """Appends `NAME: {port: N}` at the end of the `services:` block of deploy/services.yaml."""
    listing = root / "deploy" / "services.yaml"
    lines = listing.read_text().splitlines(keepends=True)
    start = lines.index("services:\n") + 1
    end = start
    while end < len(lines) and (lines[end].startswith("  ") or not lines[end].strip()):
        end += 1
    while not lines[end - 1].strip():  # after the last entry, before the blank line
        end -= 1
    lines.insert(end, f"  {name}: {{port: {port}}}\n")
    listing.write_text("".join(lines))


def listed_ports(root: Path) -> dict[str, int]:
    services = gen_deploy.load(root / "deploy" / "services.yaml").services
    return {name: service.port for name, service in services.items()}


def scaffold(root: Path, name: str, port: int | None) -> list[Path]:
    folder = root / "services" / name
    ports = listed_ports(root)
    if folder.exists() or name in ports:
        raise SystemExit(f"services/{name} exists already (use --rooms-only to add missing rooms)")
    port = port or max(ports.values()) + 1
    if port in ports.values():
        raise SystemExit(f"port {port} belongs to another service")
    made: list[Path] = []
    write_new(folder / "__init__.py", "", made)
    write_new(folder / "__main__.py", fill(MAIN, name), made)
    write_new(folder / "settings.py", fill(SETTINGS, name), made)
    made += add_rooms(root, name)
    add_port(root, name, port)
    add_to_deploy_list(root, name, port)
    deploy = root / "deploy"
    gen_deploy.write(gen_deploy.render(gen_deploy.load(deploy / "services.yaml")), deploy)
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("name", help="lowercase letters and digits, e.g. reports")
    parser.add_argument("--port", type=int, help="its gRPC port (default: the next free one)")
    parser.add_argument("--rooms-only", action="store_true", help="only add the missing rooms")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not NAME.fullmatch(args.name):
        parser.error("NAME is 2-30 lowercase letters and digits, starting with a letter")
    if args.rooms_only:
        if not (args.root / "services" / args.name / "__main__.py").exists():
            parser.error(f"services/{args.name} does not exist")
        made = add_rooms(args.root, args.name)
    else:
        made = scaffold(args.root, args.name, args.port)
        print(f"added {args.name} to SERVICE_PORTS and deploy/services.yaml; deploy/ regenerated")
    for path in made:
        print(f"created {path.relative_to(args.root)}")
    if not args.rooms_only:
        print(
            f"next: proto/plixa/{args.name}/v1/, servicers in api/, migrations/0001_*.sql; "
            "the README's map and environment table name the service"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
