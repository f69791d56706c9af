"""Other services' generated contracts, loaded when present. Billing's, inbox's and
notifications' protos land with their own issues; until a contract is in the tree, calls that
need it answer as if that service were away (503 with Retry-After), and nothing else breaks."""

from __future__ import annotations

import importlib
from types import ModuleType

import grpc

from services.kit.client import ServiceUnavailable


def contract(module: str) -> ModuleType | None:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError:
        return None


def required(module: str, service: str) -> ModuleType:
    found = contract(module)
    if found is None:
        raise ServiceUnavailable(service, grpc.StatusCode.UNIMPLEMENTED)
    return found
