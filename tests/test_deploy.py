"""deploy/ agrees with the code: every service has its manifests on its port, every setting the
code reads is declared, each service sees only its own database login, and only the gateway (and
declared internal callers) reach a service's gRPC port."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.identity.domain.onboarding import REMOTE_SERVICES
from services.kit.config import SERVICE_PORTS

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
SETTING_CALL = re.compile(r"setting(?:_int|_float)?\(\s*(f?)\"(PLIXA_[^\"]+)\"")
# Services other services call over gRPC (beyond the gateway).
INTERNAL_CALLERS = {service: {"identity"} for service in REMOTE_SERVICES}


def documents() -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in sorted(DEPLOY.rglob("*.yaml")):
        if path.name == "secrets.example.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                yield path, doc


def by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in documents() if doc["kind"] == kind}


def service_folders() -> list[str]:
    return sorted(
        p.parent.name for p in (ROOT / "services").glob("*/__main__.py") if p.parent.name != "kit"
    )


def settings_read_by_code() -> set[str]:
    names: set[str] = set()
    for folder in ("gateway", "services"):
        for path in (ROOT / folder).rglob("*.py"):
            if "tests" in path.parts:
                continue
            for is_template, name in SETTING_CALL.findall(path.read_text()):
                if is_template and "{" in name:
                    names |= {re.sub(r"\{[^}]*\}", s.upper(), name) for s in SERVICE_PORTS}
                else:
                    names.add(name)
    return names


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    [only] = deployment["spec"]["template"]["spec"]["containers"]
    return only


def declared_env() -> set[str]:
    names: set[str] = set(by_kind("ConfigMap")["plixa-config"]["data"])
    for kind in ("Deployment", "Job"):
        for doc in by_kind(kind).values():
            for c in doc["spec"]["template"]["spec"]["containers"]:
                names |= {e["name"] for e in c.get("env", [])}
    return names


def test_every_service_folder_has_its_manifests() -> None:
    assert service_folders() == sorted(SERVICE_PORTS)
    deployments, services = by_kind("Deployment"), by_kind("Service")
    hpas, pdbs = by_kind("HorizontalPodAutoscaler"), by_kind("PodDisruptionBudget")
    policies = by_kind("NetworkPolicy")
    for name in [*service_folders(), "gateway"]:
        assert name in deployments and name in services and name in hpas and name in pdbs, name
        assert hpas[name]["spec"]["scaleTargetRef"]["name"] == name
    for name in service_folders():
        assert f"{name}-grpc" in policies, name


@pytest.mark.parametrize("name", sorted(SERVICE_PORTS))
def test_service_ports_commands_and_probes_match_the_code(name: str) -> None:
    port = SERVICE_PORTS[name]
    deployment = by_kind("Deployment")[name]
    c = container(deployment)
    assert c["command"] == ["python", "-m", f"services.{name}"]
    assert [p["containerPort"] for p in c["ports"]] == [port]
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert c[probe]["grpc"]["port"] == port, probe
    assert c["resources"]["requests"] and c["resources"]["limits"]
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    spec = deployment["spec"]["template"]["spec"]
    assert spec["terminationGracePeriodSeconds"] > 10  # longer than the drain
    [svc_port] = by_kind("Service")[name]["spec"]["ports"]
    assert svc_port["port"] == port


def test_the_gateway_has_http_probes() -> None:
    c = container(by_kind("Deployment")["gateway"])
    assert c["command"] == ["python", "-m", "gateway"]
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": 8000}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": 8000}


def test_every_setting_the_code_reads_is_declared() -> None:
    read = settings_read_by_code()
    assert "PLIXA_INTERNAL_SECRET" in read and "PLIXA_IDENTITY_ADDR" in read  # the scan works
    missing = read - declared_env()
    assert not missing, f"declare these in deploy/: {sorted(missing)}"


def test_addresses_point_at_the_services() -> None:
    data = by_kind("ConfigMap")["plixa-config"]["data"]
    for name, port in SERVICE_PORTS.items():
        assert data[f"PLIXA_{name.upper()}_ADDR"] == f"{name}:{port}"
        assert data[f"PLIXA_{name.upper()}_PORT"] == str(port)
    assert data["PLIXA_GRPC_HOST"] == "0.0.0.0"


def test_each_service_gets_only_its_own_database_login() -> None:
    deployments = by_kind("Deployment")
    for name in SERVICE_PORTS:
        env = {e["name"]: e for e in container(deployments[name]).get("env", [])}
        logins = {n for n in env if n.endswith("_DATABASE_URL")}
        assert logins == {f"PLIXA_{name.upper()}_DATABASE_URL"}, name
        assert "secretKeyRef" in env[f"PLIXA_{name.upper()}_DATABASE_URL"]["valueFrom"]
        assert "PLIXA_DATABASE_URL" not in env
    gateway_env = {e["name"] for e in container(deployments["gateway"]).get("env", [])}
    assert not {n for n in gateway_env if "DATABASE" in n}
    job_env = {
        e["name"]
        for e in by_kind("Job")["plixa-migrations"]["spec"]["template"]["spec"]["containers"][0][
            "env"
        ]
    }
    assert "PLIXA_DATABASE_URL" in job_env


def test_only_the_gateway_and_declared_callers_reach_grpc_ports() -> None:
    for name, port in SERVICE_PORTS.items():
        policy = by_kind("NetworkPolicy")[f"{name}-grpc"]["spec"]
        assert policy["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": name}
        assert policy["policyTypes"] == ["Ingress"]
        [rule] = policy["ingress"]
        assert rule["ports"] == [{"protocol": "TCP", "port": port}]
        sources = {s["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for s in rule["from"]}
        assert sources == {"gateway", *INTERNAL_CALLERS.get(name, set())}, name


def test_secrets_hold_no_values_in_the_manifests() -> None:
    assert by_kind("Secret") == {}
    for _, doc in documents():
        for c in doc.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
            for entry in c.get("env", []):
                if any(
                    word in entry["name"] for word in ("SECRET", "PASSWORD", "DATABASE_URL", "KEY")
                ):
                    assert "valueFrom" in entry and "value" not in entry, entry["name"]


def test_kustomization_lists_every_manifest() -> None:
    listed = set(yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())["resources"])
    present = {
        str(p.relative_to(DEPLOY))
        for p in DEPLOY.rglob("*.yaml")
        if p.name not in ("kustomization.yaml", "secrets.example.yaml")
    }
    assert listed == present
