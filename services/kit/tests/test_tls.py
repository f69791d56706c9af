"""gRPC over TLS from settings: a real service process started with certificate paths serves
mutual TLS; the kit's client reaches it with the CA and its own certificate, and not in
plaintext (nor over TLS without a client certificate)."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from plixa.common.v1 import health_pb2
from scripts.mesh import Stack
from services.kit.client import ServiceClient, ServiceUnavailable
from services.kit.tls import CA_FILE, CERT_FILE, KEY_FILE, GrpcTls

ADMIN_URL = os.environ.get(
    "PLIXA_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
CHECK = "/grpc.health.v1.Health/Check"
SECRET = b"plixa-local-development-only"


def pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def issue(
    subject: str, issuer: x509.Name | None, signer: ec.EllipticCurvePrivateKey | None
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A throwaway certificate: the CA when `issuer` is None, else one for 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer or name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
    )
    if issuer is None:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), True)
    else:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            False,
        )
    return builder.sign(signer or key, hashes.SHA256()), key


def write_pki(folder: Path) -> Path:
    """A CA and one certificate it signed, laid out as PLIXA_GRPC_TLS_DIR expects."""
    ca, ca_key = issue("plixa-test-ca", None, None)
    cert, key = issue("plixa-service", ca.subject, ca_key)
    (folder / CA_FILE).write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / CERT_FILE).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / KEY_FILE).write_bytes(pem(key))
    return folder


@pytest.fixture(scope="module")
def tls_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, GrpcTls]]:
    """billing, started as a real process with the TLS settings."""
    folder = write_pki(tmp_path_factory.mktemp("pki"))
    settings = {"PLIXA_GRPC_TLS_DIR": str(folder)}
    stack = Stack.for_tests(ADMIN_URL, services=("billing",), extra_env=settings)
    try:
        stack.start()  # waits for SERVING over mTLS
        tls = GrpcTls(
            ca=(folder / CA_FILE).read_bytes(),
            cert=(folder / CERT_FILE).read_bytes(),
            key=(folder / KEY_FILE).read_bytes(),
        )
        yield f"127.0.0.1:{stack.ports['billing']}", tls
    finally:
        stack.stop()


async def check(address: str, tls: GrpcTls | None) -> int:
    client = ServiceClient(SECRET, lambda _: address, timeout=2.0, tls=tls)
    try:
        reply = await client.call(
            "billing", CHECK, health_pb2.HealthCheckRequest(), health_pb2.HealthCheckResponse
        )
        return int(reply.status)
    finally:
        await client.close()


def test_the_kit_client_reaches_a_tls_service_with_the_ca_and_its_certificate(
    tls_service: tuple[str, GrpcTls],
) -> None:
    address, tls = tls_service
    assert asyncio.run(check(address, tls)) == health_pb2.HealthCheckResponse.SERVING


def test_a_plaintext_client_is_refused(tls_service: tuple[str, GrpcTls]) -> None:
    address, _ = tls_service
    with pytest.raises(ServiceUnavailable):
        asyncio.run(check(address, None))  # no TLS settings in the test process: plaintext


def test_a_client_without_a_certificate_is_refused(tls_service: tuple[str, GrpcTls]) -> None:
    """Mutual TLS: knowing the CA is not enough, the caller must hold a certificate from it."""
    address, tls = tls_service
    with pytest.raises(ServiceUnavailable):
        asyncio.run(check(address, GrpcTls(ca=tls.ca)))
