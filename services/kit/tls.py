"""TLS for gRPC between the gateway and the services, from certificate paths in the settings:

- PLIXA_GRPC_TLS_CERT / PLIXA_GRPC_TLS_KEY: this process's certificate and key (PEM). A service
  serves TLS with them; a client presents them (mutual TLS).
- PLIXA_GRPC_TLS_CA: the CA (PEM) peers' certificates must chain to. Clients verify services
  with it; a service that has it also requires and verifies client certificates (mTLS).

None of them set: plaintext, for local runs. In production deploy/ sets all three."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import grpc

from services.kit.config import SettingError, setting


@dataclass(frozen=True)
class GrpcTls:
    ca: bytes
    cert: bytes = b""
    key: bytes = field(default=b"", repr=False)


def _read(name: str) -> bytes:
    path = setting(name, "").strip()
    if not path:
        return b""
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise SettingError(name, f"names a file that cannot be read: {error}") from None


def grpc_tls() -> GrpcTls | None:
    """The process's gRPC TLS settings, or None (plaintext) when none is set."""
    ca = _read("PLIXA_GRPC_TLS_CA")
    cert = _read("PLIXA_GRPC_TLS_CERT")
    key = _read("PLIXA_GRPC_TLS_KEY")
    if not (ca or cert or key):
        return None
    if bool(cert) != bool(key):
        raise SettingError("PLIXA_GRPC_TLS_KEY", "and PLIXA_GRPC_TLS_CERT go together")
    if not ca:
        raise SettingError("PLIXA_GRPC_TLS_CA", "is needed to verify peers when TLS is on")
    return GrpcTls(ca=ca, cert=cert, key=key)


def server_credentials(tls: GrpcTls) -> grpc.ServerCredentials:
    """Serves with the process's certificate and requires a client certificate from the CA."""
    if not tls.cert:
        raise SettingError("PLIXA_GRPC_TLS_CERT", "is needed to serve gRPC over TLS")
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
