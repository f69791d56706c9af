"""deploy/ is what `python -m scripts.gen_deploy` writes from its one list (deploy/services.yaml),
and agrees with the code: the list names every service on its SERVICE_PORTS port, each gets all
its pieces, every setting the code reads is given to each process that reads it, each service sees
only its own database login, secrets come only from the Secret, and only the gateway and the
declared callers (a superset of what the code shows) reach a service's gRPC port.

No cluster and no database: the manifests are read with PyYAML and the code with `ast`."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts import gen_deploy
from services.identity.domain.onboarding import REMOTE_SERVICES
from services.kit.config import SERVICE_PORTS
from services.kit.messaging import stream_name

Manifest = dict[str, Any]

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = gen_deploy.DEPLOY
CODE_FOLDERS = ("gateway", "services")
CONFIG_MAP = gen_deploy.CONFIG_MAP
SECRET = gen_deploy.SECRET
NAME_LABEL = gen_deploy.NAME_LABEL
DRAIN_SECONDS = 10.0  # the gateway's and the services' graceful shutdown
PIECES = ("Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget")

ENV_NAME = re.compile(r"PLIXA_[A-Z0-9_]+")
SECRET_WORDS = ("SECRET", "PASSWORD", "DATABASE_URL", "KEY")
ADMIN_URL = "PLIXA_DATABASE_URL"  # the migrations Job's; services read it only as a fallback
SERVICE_LOGIN = re.compile(
    rf"PLIXA_(?:{'|'.join(s.upper() for s in SERVICE_PORTS)})_(?:DATABASE_URL|DB_PASSWORD)"
)
# PLIXA_ literals in the code that are not environment variables.
NOT_SETTINGS = frozenset(stream_name(s) for s in SERVICE_PORTS)  # NATS stream names
# Code that opens a gRPC channel to another service.
CHANNEL_CALLS = frozenset(
    {"service_address", "insecure_channel", "secure_channel", "ServiceClient"}
)

SERVICE_LIST = gen_deploy.load()


# --- the generator -----------------------------------------------------------------------------


def test_the_checked_in_output_is_what_the_generator_writes() -> None:
    stale = gen_deploy.stale(gen_deploy.render(SERVICE_LIST))
    assert not stale, f"run `python -m scripts.gen_deploy` (never edit its output): {stale}"


def test_the_list_names_every_service_on_its_port() -> None:
    listed = {name: s.port for name, s in SERVICE_LIST.services.items()}
    assert listed == SERVICE_PORTS, "deploy/services.yaml and services/kit/config.py disagree"
    assert service_folders() == sorted(SERVICE_PORTS), "a service folder without a port (or back)"


def test_one_line_adds_a_service_with_all_its_pieces(tmp_path: Path) -> None:
    text = gen_deploy.SERVICE_LIST.read_text()
    listed = tmp_path / "services.yaml"
    listed.write_text(text.replace("\nservices:\n", "\nservices:\n  newcomer: {port: 50099}\n", 1))
    files = gen_deploy.render(gen_deploy.load(listed))
    docs = [d for text in files.values() for d in yaml.safe_load_all(text) if d and "metadata" in d]
    pieces = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert {(kind, "newcomer") for kind in PIECES} | {("NetworkPolicy", "newcomer-grpc")} <= pieces
    assert "generated/newcomer.yaml" in yaml.safe_load(files["kustomization.yaml"])["resources"]
    [config] = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == CONFIG_MAP]
    assert config["data"]["PLIXA_NEWCOMER_ADDR"] == "newcomer:50099"
    [example] = [d for d in docs if d["kind"] == "Secret"]
    assert {"newcomer-database-url", "newcomer-db-password"} <= set(example["stringData"])
    [job] = [d for d in docs if d["kind"] == "Job"]
    assert "PLIXA_NEWCOMER_DB_PASSWORD" in env_entries(job)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kustomize_builds_every_manifest() -> None:
    built = subprocess.run(
        ["kubectl", "kustomize", str(DEPLOY)], capture_output=True, text=True, check=True
    ).stdout
    names = sorted((d["kind"], d["metadata"]["name"]) for d in yaml.safe_load_all(built) if d)
    assert names == sorted((d["kind"], d["metadata"]["name"]) for d in documents())


# --- the manifests -----------------------------------------------------------------------------


def manifest_files() -> list[Path]:
    """What `kubectl apply -k deploy/` applies."""
    listed = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())["resources"]
    return [DEPLOY / path for path in listed]


@cache
def documents() -> tuple[Manifest, ...]:
    docs: list[Manifest] = []
    for path in manifest_files():
        docs += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return tuple(docs)


def by_kind(kind: str) -> dict[str, Manifest]:
    return {doc["metadata"]["name"]: doc for doc in documents() if doc["kind"] == kind}


def pod_spec(workload: Manifest) -> Manifest:
    spec: Manifest = workload["spec"]["template"]["spec"]
    return spec


def container(workload: Manifest) -> Manifest:
    [only] = pod_spec(workload)["containers"]
    return only


def env_entries(workload: Manifest) -> dict[str, Manifest]:
    return {e["name"]: e for c in pod_spec(workload)["containers"] for e in c.get("env", [])}


def config_data() -> dict[str, str]:
    data: dict[str, str] = by_kind("ConfigMap")[CONFIG_MAP]["data"]
    return data


def available_env(workload: Manifest) -> set[str]:
    """What a workload's process sees: its env entries and the ConfigMaps it takes whole."""
    names = set(env_entries(workload))
    config_maps = by_kind("ConfigMap")
    for c in pod_spec(workload)["containers"]:
        for source in c.get("envFrom", []):
            ref = source.get("configMapRef", {}).get("name")
            if ref is not None:
                names |= set(config_maps[ref]["data"])
    return names


def declared_env() -> set[str]:
    names = set(config_data())
    for kind in ("Deployment", "Job"):
        for workload in by_kind(kind).values():
            names |= set(env_entries(workload))
    return names


def secret_example_keys() -> set[str]:
    [example] = [d for d in yaml.safe_load_all((DEPLOY / "secrets.example.yaml").read_text()) if d]
    assert example["kind"] == "Secret" and example["metadata"]["name"] == SECRET
    return set(example["stringData"])


def deployment_names() -> list[str]:
    return sorted(by_kind("Deployment"))


# --- the code ----------------------------------------------------------------------------------


def service_folders() -> list[str]:
    return sorted(
        p.parent.name for p in (ROOT / "services").glob("*/__main__.py") if p.parent.name != "kit"
    )


@cache
def modules() -> dict[str, Path]:
    """Dotted module name -> file, for the code under gateway/ and services/ (tests aside)."""
    found: dict[str, Path] = {}
    for folder in CODE_FOLDERS:
        for path in (ROOT / folder).rglob("*.py"):
            relative = path.relative_to(ROOT)
            if "tests" in relative.parts:
                continue
            parts = list(relative.with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


@cache
def syntax(module: str) -> ast.Module:
    path = modules()[module]
    return ast.parse(path.read_text(), filename=str(path))


def with_parents(dotted: str) -> set[str]:
    parts = dotted.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts) + 1)}


@cache
def imports_of(module: str) -> frozenset[str]:
    package = module if modules()[module].name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(syntax(module)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found |= with_parents(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found |= with_parents(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}  # submodules
    return frozenset(found & set(modules()))


def reachable(entry: str) -> set[str]:
    """Every module of ours a process started with `python -m <entry>` may import."""
    start = f"{entry}.__main__" if f"{entry}.__main__" in modules() else entry
    seen: set[str] = set()
    todo = [m for m in with_parents(start) if m in modules()]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo += imports_of(module) - seen
    return seen


def string_template(node: ast.expr) -> str | None:
    """A string literal's text; an f-string's placeholders become `{}`."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(str(v.value) if isinstance(v, ast.Constant) else "{}" for v in node.values)
    return None


@cache
def settings_in(module: str) -> frozenset[str]:
    """The PLIXA_ names a module spells out; `{...}` stands for each service's name."""
    tree = syntax(module)
    fragments = {
        id(v) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for v in node.values
    }
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in fragments or not isinstance(node, ast.expr):
            continue
        template = string_template(node)
        if template is None or not template.startswith("PLIXA_"):
            continue
        expanded = {template.replace("{}", s.upper()) for s in SERVICE_PORTS}
        names |= {name for name in expanded if ENV_NAME.fullmatch(name)}
    return frozenset(names - NOT_SETTINGS)


def settings_read_by_code() -> set[str]:
    return set().union(*(settings_in(m) for m in modules()))


def settings_read_by(entry: str) -> set[str]:
    return set().union(*(settings_in(m) for m in reachable(entry)))


def entry_module(workload: Manifest) -> str:
    python, flag, entry = container(workload)["command"]
    assert (python, flag) == ("python", "-m")
    return str(entry)


def services_opening_channels() -> set[str]:
    callers: set[str] = set()
    for module in modules():
        parts = module.split(".")
        if parts[0] != "services" or len(parts) < 2 or parts[1] == "kit":
            continue
        for node in ast.walk(syntax(module)):
            if isinstance(node, ast.Call):
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if called in CHANNEL_CALLS:
                    callers.add(parts[1])
    return callers


# --- every service has its pieces --------------------------------------------------------------


def test_every_service_and_the_gateway_have_their_pieces() -> None:
    for name in [*SERVICE_PORTS, "gateway"]:
        for kind in PIECES:
            assert name in by_kind(kind), f"{name} has no {kind}"
    for name in SERVICE_PORTS:
        assert f"{name}-grpc" in by_kind("NetworkPolicy"), f"{name} has no NetworkPolicy"
    assert set(by_kind("Deployment")) == {*SERVICE_PORTS, "gateway"}, "a Deployment runs no code"


@pytest.mark.parametrize("name", sorted(SERVICE_PORTS))
def test_service_ports_commands_and_probes_match_the_code(name: str) -> None:
    port = SERVICE_PORTS[name]
    c = container(by_kind("Deployment")[name])
    assert c["command"] == ["python", "-m", f"services.{name}"]
    assert [p["containerPort"] for p in c["ports"]] == [port]
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):  # mTLS: not the kubelet's
        assert c[probe]["exec"]["command"] == [
            "python",
            "-m",
            "services.kit.probe",
            str(port),
            name,
        ], probe
    [svc_port] = by_kind("Service")[name]["spec"]["ports"]
    assert svc_port["port"] == port
    assert config_data()[f"PLIXA_{name.upper()}_ADDR"] == f"{name}:{port}"
    assert config_data()[f"PLIXA_{name.upper()}_PORT"] == str(port)


def test_the_gateway_serves_http_with_http_probes() -> None:
    port = SERVICE_LIST.gateway.port
    c = container(by_kind("Deployment")["gateway"])
    assert c["command"] == ["python", "-m", "gateway"]
    assert [p["containerPort"] for p in c["ports"]] == [port]
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port}
    assert config_data()["PLIXA_GATEWAY_PORT"] == str(port)
    assert config_data()["PLIXA_GATEWAY_HOST"] == config_data()["PLIXA_GRPC_HOST"] == "0.0.0.0"


@pytest.mark.parametrize("name", sorted([*SERVICE_PORTS, "gateway"]))
def test_pieces_select_the_deployment_and_can_drain(name: str) -> None:
    deployment = by_kind("Deployment")[name]
    assert deployment["spec"]["selector"]["matchLabels"] == {NAME_LABEL: name}
    assert by_kind("Service")[name]["spec"]["selector"] == {NAME_LABEL: name}
    hpa = by_kind("HorizontalPodAutoscaler")[name]
    assert hpa["spec"]["scaleTargetRef"]["name"] == name
    pdb = by_kind("PodDisruptionBudget")[name]
    assert pdb["spec"]["selector"]["matchLabels"] == {NAME_LABEL: name}
    assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"], "a node could never drain"
    drain = max(DRAIN_SECONDS, float(config_data()["PLIXA_SHUTDOWN_GRACE_SECONDS"]))
    assert pod_spec(deployment)["terminationGracePeriodSeconds"] > drain


def test_volumes_are_claimed_and_mounted_where_the_setting_points() -> None:
    claims = by_kind("PersistentVolumeClaim")
    for name, service in SERVICE_LIST.services.items():
        mounts = {
            m["name"]: m["mountPath"]
            for m in container(by_kind("Deployment")[name])["volumeMounts"]
        }
        for volume in service.volumes:
            assert f"{name}-{volume.name}" in claims
            assert mounts[volume.name] == volume.mount_path
    identity = SERVICE_LIST.services["identity"]
    assert [v.mount_path for v in identity.volumes] == [config_data()["PLIXA_STORAGE_DIR"]]


# --- settings ----------------------------------------------------------------------------------


def test_the_scan_finds_settings() -> None:
    read = settings_read_by_code()
    # plain, templated per service, and not a NATS stream name: the scan itself works
    assert {"PLIXA_INTERNAL_SECRET", "PLIXA_IDENTITY_ADDR", "PLIXA_NOTIFICATIONS_PORT"} <= read
    assert stream_name("identity") not in read


def test_every_setting_the_code_reads_is_declared() -> None:
    missing = settings_read_by_code() - declared_env()
    assert not missing, f"declare these in deploy/ (config.yaml or an env entry): {sorted(missing)}"


@pytest.mark.parametrize("name", deployment_names())
def test_each_process_is_given_what_its_code_reads(name: str) -> None:
    deployment = by_kind("Deployment")[name]
    read = settings_read_by(entry_module(deployment))
    # Database logins are per service: see test_each_service_gets_only_its_own_database_login.
    needed = {n for n in read if n != ADMIN_URL and not SERVICE_LOGIN.fullmatch(n)}
    missing = needed - available_env(deployment)
    assert not missing, f"the {name} Deployment lacks {sorted(missing)}"


def test_each_service_gets_only_its_own_database_login() -> None:
    deployments = by_kind("Deployment")
    for name in SERVICE_PORTS:
        env = env_entries(deployments[name])
        own = f"PLIXA_{name.upper()}_DATABASE_URL"
        logins = {n for n in available_env(deployments[name]) if "DATABASE_URL" in n}
        assert logins == {own}, name
        assert env[own]["valueFrom"]["secretKeyRef"]["name"] == SECRET
    gateway = available_env(deployments["gateway"])
    assert not {n for n in gateway if "DATABASE" in n or "DB_PASSWORD" in n}


def test_the_migrations_job_holds_the_admin_login() -> None:
    job = by_kind("Job")[gen_deploy.MIGRATIONS_JOB]
    assert container(job)["command"] == ["python", "-m", "services.kit.migrations"]
    read = settings_read_by("services.kit.migrations")
    logins = {n for n in read if n == ADMIN_URL or n.endswith("_DB_PASSWORD")}
    assert ADMIN_URL in logins
    env = env_entries(job)
    assert logins <= set(env), sorted(logins - set(env))
    for name in logins:
        assert env[name]["valueFrom"]["secretKeyRef"]["name"] == SECRET, name


def test_secrets_come_only_from_the_secret() -> None:
    assert by_kind("Secret") == {}, "keep secret values out of deploy/"
    assert not [k for k in config_data() if any(w in k for w in SECRET_WORDS)]
    example_keys, used_keys = secret_example_keys(), set()
    for kind in ("Deployment", "Job"):
        for workload in by_kind(kind).values():
            for name, entry in env_entries(workload).items():
                if any(word in name for word in SECRET_WORDS):
                    assert "value" not in entry, name
                    ref = entry["valueFrom"]["secretKeyRef"]
                    assert ref["name"] == SECRET, name
                    used_keys.add(ref["key"])
    assert used_keys == example_keys, "secrets.example.yaml lists exactly the keys used"


# --- network -----------------------------------------------------------------------------------


def test_the_declared_callers_cover_the_code() -> None:
    declared = {name for s in SERVICE_LIST.services.values() for name in s.callers}
    assert services_opening_channels() <= declared, "a service calls another: list it as a caller"
    for callee in REMOTE_SERVICES:  # identity asks them for onboarding progress
        assert "identity" in SERVICE_LIST.services[callee].callers, callee


@pytest.mark.parametrize("name", sorted(SERVICE_PORTS))
def test_only_the_gateway_and_declared_callers_reach_grpc_ports(name: str) -> None:
    spec = by_kind("NetworkPolicy")[f"{name}-grpc"]["spec"]
    assert spec["podSelector"]["matchLabels"] == {NAME_LABEL: name}
    assert spec["policyTypes"] == ["Ingress"]
    [rule] = spec["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": SERVICE_PORTS[name]}]
    sources = [source["podSelector"]["matchLabels"] for source in rule["from"]]
    assert all(set(source) == {NAME_LABEL} for source in sources), "only pod selectors by name"
    allowed = {"gateway", *SERVICE_LIST.services[name].callers}
    assert sorted(s[NAME_LABEL] for s in sources) == sorted(allowed)


@pytest.mark.parametrize("name", deployment_names())
def test_each_process_has_its_grpc_certificate_and_its_own_nats_user(name: str) -> None:
    deployment = by_kind("Deployment")[name]
    mounts = {m["name"]: m for m in container(deployment)["volumeMounts"]}
    assert mounts["grpc-tls"]["mountPath"] == config_data()["PLIXA_GRPC_TLS_DIR"]
    volumes = {v["name"]: v for v in pod_spec(deployment)["volumes"]}
    assert volumes["grpc-tls"]["secret"]["secretName"] == gen_deploy.GRPC_TLS_SECRET
    password = env_entries(deployment)["PLIXA_NATS_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert password == {"name": SECRET, "key": f"{name}-nats-password"}
    nats_conf = by_kind("ConfigMap")[gen_deploy.NATS_CONFIG_MAP]["data"]["nats.conf"]
    assert f"password: ${name.upper()}_NATS_PASSWORD" in nats_conf
