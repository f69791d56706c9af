"""Settings are read and validated once at start: a bad value names its variable, and with
PLIXA_ENV=production a service (and the gateway) refuses to start on a missing, empty or
development secret. The refusals are checked on the real processes, started as deploy/ does."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from gateway.config import GatewaySettings
from scripts.mesh import ROOT, free_port
from services.identity.settings import IdentitySettings
from services.inbox.settings import InboxSettings
from services.kit.config import (
    DEV_INTERNAL_SECRET,
    DEV_NATS_PASSWORD,
    SettingError,
    environment,
    secret_setting,
    setting_float,
    setting_int,
    setting_url,
)
from services.kit.crypto import DEV_ENCRYPTION_KEY, SecretBox

REAL_SECRET = "a-real-internal-secret-of-some-length"
REAL_KEY = Fernet.generate_key().decode()
REAL_NATS_PASSWORD = "a-real-nats-password-of-some-length"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts from no PLIXA_ settings at all (the environment, not our code)."""
    for name in [n for n in os.environ if n.startswith("PLIXA_")]:
        monkeypatch.delenv(name)


def production(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    monkeypatch.setenv("PLIXA_ENV", "production")
    monkeypatch.setenv("PLIXA_NATS_PASSWORD", REAL_NATS_PASSWORD)  # unless `values` says otherwise
    for name, value in values.items():
        monkeypatch.setenv(name, value)


# --- typed readers -----------------------------------------------------------------------------


def test_numbers_are_checked_and_the_error_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PLIXA_SOME_COUNT", "twelve")
    with pytest.raises(SettingError, match="PLIXA_SOME_COUNT must be a whole number"):
        setting_int("PLIXA_SOME_COUNT", 3)
    monkeypatch.setenv("PLIXA_SOME_COUNT", "0")
    with pytest.raises(SettingError, match="PLIXA_SOME_COUNT must be at least 1"):
        setting_int("PLIXA_SOME_COUNT", 3, minimum=1)
    monkeypatch.setenv("PLIXA_SOME_COUNT", " 7 ")
    assert setting_int("PLIXA_SOME_COUNT", 3, minimum=1, maximum=7) == 7
    monkeypatch.setenv("PLIXA_SOME_SECONDS", "nan")
    with pytest.raises(SettingError, match="PLIXA_SOME_SECONDS must be a finite number"):
        setting_float("PLIXA_SOME_SECONDS", 1.0)
    monkeypatch.setenv("PLIXA_SOME_SECONDS", "9000")
    with pytest.raises(SettingError, match="PLIXA_SOME_SECONDS must be at most 3600"):
        setting_float("PLIXA_SOME_SECONDS", 1.0, maximum=3600)
    monkeypatch.delenv("PLIXA_SOME_SECONDS")
    assert setting_float("PLIXA_SOME_SECONDS", 1.5) == 1.5


def test_urls_and_the_environment_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLIXA_SOME_URL", "app.plixa.app")
    with pytest.raises(SettingError, match="PLIXA_SOME_URL must be an absolute http"):
        setting_url("PLIXA_SOME_URL", "http://x")
    monkeypatch.setenv("PLIXA_SOME_URL", "https://app.plixa.app/")
    assert setting_url("PLIXA_SOME_URL", "http://x") == "https://app.plixa.app"
    assert environment() == "development"
    monkeypatch.setenv("PLIXA_ENV", "prod")
    with pytest.raises(SettingError, match="PLIXA_ENV must be one of development, production"):
        environment()


# --- secrets -----------------------------------------------------------------------------------


def test_in_development_an_unset_secret_uses_its_default_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    name = f"PLIXA_TEST_SECRET_{os.getpid()}_{time.monotonic_ns()}"
    with caplog.at_level(logging.WARNING, logger="plixa.config"):
        assert secret_setting(name, "dev-value") == "dev-value"
        assert secret_setting(name, "dev-value") == "dev-value"
    said = [r.getMessage() for r in caplog.records if name in r.getMessage()]
    assert said == [f"{name} is unset: using the development default (never in production)"]


def test_an_empty_secret_is_refused_in_every_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLIXA_ENCRYPTION_KEY", "")
    with pytest.raises(SettingError, match="PLIXA_ENCRYPTION_KEY is empty"):
        IdentitySettings.load()
    production(monkeypatch, PLIXA_INTERNAL_SECRET=" ")
    with pytest.raises(SettingError, match="PLIXA_INTERNAL_SECRET is empty"):
        InboxSettings.load("inbox")


@pytest.mark.parametrize(
    ("env", "refused"),
    [
        ({}, "PLIXA_INTERNAL_SECRET is unset"),
        (
            {"PLIXA_INTERNAL_SECRET": DEV_INTERNAL_SECRET},
            "PLIXA_INTERNAL_SECRET is the development",
        ),
        ({"PLIXA_INTERNAL_SECRET": REAL_SECRET}, "PLIXA_ENCRYPTION_KEY is unset"),
        (
            {"PLIXA_INTERNAL_SECRET": REAL_SECRET, "PLIXA_ENCRYPTION_KEY": DEV_ENCRYPTION_KEY},
            "PLIXA_ENCRYPTION_KEY is the development default",
        ),
        (
            {"PLIXA_INTERNAL_SECRET": REAL_SECRET, "PLIXA_ENCRYPTION_KEY": "not-a-fernet-key"},
            "PLIXA_ENCRYPTION_KEY must be a Fernet key",
        ),
    ],
)
def test_production_refuses_missing_and_development_secrets(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], refused: str
) -> None:
    production(monkeypatch, **env)
    with pytest.raises(SettingError, match=refused):
        IdentitySettings.load()


@pytest.mark.parametrize(
    ("password", "refused"),
    [
        (None, "PLIXA_NATS_PASSWORD is unset"),
        (DEV_NATS_PASSWORD, "PLIXA_NATS_PASSWORD is the development default"),
        ("", "PLIXA_NATS_PASSWORD is empty"),
    ],
)
def test_production_refuses_a_missing_or_development_nats_password(
    monkeypatch: pytest.MonkeyPatch, password: str | None, refused: str
) -> None:
    production(monkeypatch, PLIXA_INTERNAL_SECRET=REAL_SECRET)
    if password is None:
        monkeypatch.delenv("PLIXA_NATS_PASSWORD")
    else:
        monkeypatch.setenv("PLIXA_NATS_PASSWORD", password)
    for load in (lambda: InboxSettings.load("inbox"), GatewaySettings.load):
        with pytest.raises(SettingError, match=refused):
            load()


def test_production_with_real_secrets_loads_typed_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    production(
        monkeypatch,
        PLIXA_INTERNAL_SECRET=REAL_SECRET,
        PLIXA_ENCRYPTION_KEY=REAL_KEY,
        PLIXA_HEARTBEAT_TIMEOUT_SECONDS="120",
        PLIXA_IDENTITY_SWEEP_SECONDS="0.5",
        PLIXA_PANEL_URL="https://app.plixa.app/",
    )
    settings = IdentitySettings.load()
    assert settings.environment == "production"
    assert settings.internal_secret == REAL_SECRET.encode()
    assert SecretBox(settings.encryption_key).open(SecretBox(REAL_KEY.encode()).seal("x")) == "x"
    assert settings.heartbeat_timeout == timedelta(seconds=120)
    assert settings.deletion_grace == timedelta(days=14)
    assert settings.sweep_seconds == 0.5
    assert settings.panel_url == "https://app.plixa.app"
    assert REAL_SECRET not in repr(settings) and REAL_KEY not in repr(settings)


def test_identity_settings_name_the_bad_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value, problem in [
        ("PLIXA_HEARTBEAT_TIMEOUT_SECONDS", "ninety", "must be a whole number"),
        ("PLIXA_SCRYPT_LOG_N", "40", "must be at most 20"),
        ("PLIXA_DELETION_GRACE_DAYS", "-1", "must be at least 0"),
        ("PLIXA_IDENTITY_SWEEP_SECONDS", "0", "must be at least 0.1"),
        ("PLIXA_IDENTITY_PORT", "70000", "must be at most 65535"),
    ]:
        monkeypatch.setenv(name, value)
        with pytest.raises(SettingError, match=f"{name} {problem}"):
            IdentitySettings.load()
        monkeypatch.delenv(name)


def test_the_gateway_refuses_a_development_secret_in_production(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    production(monkeypatch, PLIXA_INTERNAL_SECRET=DEV_INTERNAL_SECRET)
    with pytest.raises(SettingError, match="PLIXA_INTERNAL_SECRET is the development default"):
        GatewaySettings.load()
    monkeypatch.setenv("PLIXA_INTERNAL_SECRET", REAL_SECRET)
    assert GatewaySettings.load().internal_secret == REAL_SECRET.encode()


# --- the real processes ------------------------------------------------------------------------


def start(module: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("PLIXA_")}
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", module],
            env={**base, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )


def refusal(module: str, env: dict[str, str], tmp_path: Path) -> str:
    """Starts the process, expects it to refuse (exit code 2), and returns what it said."""
    log = tmp_path / f"{module}.log"
    process = start(module, env, log)
    assert process.wait(timeout=60) == 2, log.read_text()
    return log.read_text()


@pytest.mark.parametrize(
    ("module", "env", "variable"),
    [
        ("services.identity", {}, "PLIXA_INTERNAL_SECRET"),
        ("services.identity", {"PLIXA_INTERNAL_SECRET": REAL_SECRET}, "PLIXA_ENCRYPTION_KEY"),
        (
            "services.identity",
            {"PLIXA_INTERNAL_SECRET": REAL_SECRET, "PLIXA_ENCRYPTION_KEY": DEV_ENCRYPTION_KEY},
            "PLIXA_ENCRYPTION_KEY",
        ),
        ("services.inbox", {"PLIXA_INTERNAL_SECRET": DEV_INTERNAL_SECRET}, "PLIXA_INTERNAL_SECRET"),
        ("gateway", {}, "PLIXA_INTERNAL_SECRET"),
        ("gateway", {"PLIXA_INTERNAL_SECRET": ""}, "PLIXA_INTERNAL_SECRET"),
    ],
)
def test_a_process_in_production_refuses_to_start_without_real_secrets(
    module: str, env: dict[str, str], variable: str, tmp_path: Path
) -> None:
    said = refusal(
        module,
        {"PLIXA_ENV": "production", "PLIXA_NATS_PASSWORD": REAL_NATS_PASSWORD, **env},
        tmp_path,
    )
    assert f"refusing to start: {variable} " in said


def test_identity_refuses_an_empty_encryption_key_in_development(tmp_path: Path) -> None:
    said = refusal("services.identity", {"PLIXA_ENCRYPTION_KEY": ""}, tmp_path)
    assert "refusing to start: PLIXA_ENCRYPTION_KEY is empty" in said


def test_identity_in_production_with_real_secrets_starts_and_stops(tmp_path: Path) -> None:
    # The counterpart of the refusals: the same process, given real secrets, gets to serving.
    log = tmp_path / "identity.log"
    env = {
        "PLIXA_ENV": "production",
        "PLIXA_INTERNAL_SECRET": REAL_SECRET,
        "PLIXA_ENCRYPTION_KEY": REAL_KEY,
        "PLIXA_NATS_PASSWORD": REAL_NATS_PASSWORD,
        "PLIXA_IDENTITY_PORT": str(free_port()),
        "PLIXA_STORAGE_DIR": str(tmp_path / "storage"),
    }
    process = start("services.identity", env, log)
    try:
        deadline = time.monotonic() + 60
        while '"message": "serving"' not in log.read_text():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    text = log.read_text()
    assert "development default" not in text
    assert REAL_SECRET not in text and REAL_KEY not in text
