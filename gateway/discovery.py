"""The route table comes from the proto descriptors: every RPC annotated with
(plixa.common.v1.route) in a non-internal service becomes a route. No per-endpoint gateway code."""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from functools import cached_property

from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FileDescriptor, MethodDescriptor
from google.protobuf.message import Message

# Imported before reading options, or the extension reads as empty.
from plixa.common.v1 import options_pb2

VERBS = ("get", "put", "post", "delete", "patch")
RAW_REQUEST = "plixa.common.v1.RawRequest"


@dataclass(frozen=True)
class RouteSpec:
    verb: str  # upper case
    template: str
    service: str  # owning service, from the proto package plixa.<service>.v1
    full_method: str  # /plixa.identity.v1.Identity/Register
    method: MethodDescriptor
    rule: options_pb2.Route
    request_class: type[Message]
    response_class: type[Message]

    @property
    def operation_id(self) -> str:
        return f"{self.method.containing_service.name}_{self.method.name}"

    @property
    def input(self) -> Descriptor:
        return self.method.input_type

    @cached_property
    def raw_field(self) -> str | None:
        """The RawRequest field the body goes to untouched (signed provider webhooks), if any."""
        field = self.input.fields_by_name.get(self.rule.body)
        kind = field.message_type if field is not None else None
        return field.name if field is not None and kind and kind.full_name == RAW_REQUEST else None


def load_contract_modules(package: str = "plixa") -> list[FileDescriptor]:
    """Imports every generated *_pb2 module, so the descriptor pool holds the whole contract."""
    root = importlib.import_module(package)
    files = []
    for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
        if info.name.endswith("_pb2"):
            files.append(importlib.import_module(info.name).DESCRIPTOR)
    return files


def discover_routes() -> list[RouteSpec]:
    routes: list[RouteSpec] = []
    for file in load_contract_modules():
        parts = file.package.split(".")
        if len(parts) < 3 or parts[0] != "plixa" or parts[1] == "common":
            continue
        for service in file.services_by_name.values():
            if service.GetOptions().Extensions[options_pb2.internal]:
                continue
            for method in service.methods:
                options = method.GetOptions()
                if not options.HasExtension(options_pb2.route):
                    continue
                rule = options.Extensions[options_pb2.route]
                verb = rule.WhichOneof("pattern")
                if verb is None:
                    raise ValueError(f"{method.full_name}: route without an HTTP verb")
                routes.append(
                    RouteSpec(
                        verb=verb.upper(),
                        template=getattr(rule, verb),
                        service=parts[1],
                        full_method=f"/{service.full_name}/{method.name}",
                        method=method,
                        rule=rule,
                        request_class=message_factory.GetMessageClass(method.input_type),
                        response_class=message_factory.GetMessageClass(method.output_type),
                    )
                )
    return routes
