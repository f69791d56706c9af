"""TLS for gRPC between the gateway and the services, from one setting: PLIXA_GRPC_TLS_DIR, a
folder laid out as a Kubernetes TLS Secret mounts it (cert-manager adds ca.crt):

- tls.crt / tls.key: this process's certificate and key (PEM). A service serves TLS with them;
  a client presents them (mutual TLS).
- ca.crt: the CA peers' certificates must chain to. Clients verify services with it, and a
  service requires a client certificate signed by it.

Unset: plaintext, for local runs. deploy/ mounts the plixa-grpc-tls Secret and sets it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import grpc

from services.kit.config import SettingError, setting

CA_FILE, CERT_FILE, KEY_FILE = "ca.crt", "tls.crt", "tls.key"


@dataclass(frozen=True)
class GrpcTls:
    ca: bytes
    cert: bytes = b""
    key: bytes = field(default=b"", repr=False)


def _read(folder: Path, name: str) -> bytes:
    try:
        return (folder / name).read_bytes()
    except OSError as error:
        raise SettingError("PLIXA_GRPC_TLS_DIR", f"lacks a readable {name}: {error}") from None


def grpc_tls() -> GrpcTls | None:
    """The process's gRPC TLS material, or None (plaintext) when PLIXA_GRPC_TLS_DIR is unset."""
    folder = setting("PLIXA_GRPC_TLS_DIR", "").strip()
    if not folder:
        return None
    path = Path(folder)
    return GrpcTls(ca=_read(path, CA_FILE), cert=_read(path, CERT_FILE), key=_read(path, KEY_FILE))


def server_credentials(tls: GrpcTls) -> grpc.ServerCredentials:
    """Serves with the process's certificate and requires a client certificate from the CA."""
    return grpc.ssl_server_credentials(
        [(tls.key, tls.cert)], root_certificates=tls.ca, require_client_auth=True
    )


def channel_credentials(tls: GrpcTls) -> grpc.ChannelCredentials:
    """Verifies the service against the CA and presents the process's certificate, if any."""
    return grpc.ssl_channel_credentials(
        root_certificates=tls.ca,
        private_key=tls.key or None,
        certificate_chain=tls.cert or None,
    )
