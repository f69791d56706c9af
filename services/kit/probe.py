"""`python -m services.kit.probe PORT NAME`: the Kubernetes probe of a service. The kubelet's own
gRPC probe cannot speak mutual TLS, so this asks the service's health the way the gateway would:
over TLS from PLIXA_GRPC_TLS_DIR (checking the certificate against NAME, the service's host
name), in plaintext when that is unset. Exit 0 when SERVING."""

from __future__ import annotations

import sys

import grpc

from plixa.common.v1 import health_pb2, health_pb2_grpc
from services.kit.tls import channel_credentials, grpc_tls


def serving(port: int, name: str, timeout: float = 2.0) -> bool:
    address = f"127.0.0.1:{port}"
    tls = grpc_tls()
    if tls is None:
        channel = grpc.insecure_channel(address)
    else:
        override = [("grpc.ssl_target_name_override", name)]
        channel = grpc.secure_channel(address, channel_credentials(tls), options=override)
    with channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=timeout
            )
        except grpc.RpcError:
            return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


if __name__ == "__main__":
    sys.exit(0 if serving(int(sys.argv[1]), sys.argv[2]) else 1)
