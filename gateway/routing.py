"""Matches a verb and path against the route templates (`/v1/labels/{id}`)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from gateway.discovery import RouteSpec
from gateway.errors import GatewayError


@dataclass(frozen=True)
class Template:
    segments: tuple[str, ...]  # literal text, or "{name}" for a variable

    @classmethod
    def parse(cls, template: str) -> Template:
        return cls(tuple(template.strip("/").split("/")))

    @property
    def variables(self) -> list[str]:
        return [s[1:-1] for s in self.segments if s.startswith("{")]

    def match(self, parts: list[str]) -> dict[str, str] | None:
        params: dict[str, str] = {}
        for segment, part in zip(self.segments, parts, strict=True):
            if segment.startswith("{"):
                if not part:
                    return None
                params[segment[1:-1]] = part
            elif segment != part:
                return None
        return params

    @property
    def specificity(self) -> tuple[int, ...]:
        """Literal segments win over variables, left to right (`/accept` before `/{id}`)."""
        return tuple(0 if s.startswith("{") else 1 for s in self.segments)


class RouteTable:
    def __init__(self, routes: list[RouteSpec]) -> None:
        self.routes = routes
        self._by_length: dict[int, list[tuple[Template, RouteSpec]]] = defaultdict(list)
        seen: set[tuple[str, tuple[str, ...]]] = set()
        for route in routes:
            template = Template.parse(route.template)
            key = (
                route.verb,
                tuple("{}" if s.startswith("{") else s for s in template.segments),
            )
            if key in seen:
                raise ValueError(f"two RPCs claim {route.verb} {route.template}")
            seen.add(key)
            self._by_length[len(template.segments)].append((template, route))
        for candidates in self._by_length.values():
            candidates.sort(key=lambda pair: pair[0].specificity, reverse=True)

    def match(self, verb: str, path: str) -> tuple[RouteSpec, dict[str, str]]:
        parts = path.strip("/").split("/")
        allowed: list[str] = []
        for template, route in self._by_length.get(len(parts), ()):
            params = template.match(parts)
            if params is None:
                continue
            if route.verb == verb:
                return route, params
            allowed.append(route.verb)
        if allowed:
            raise GatewayError(
                405,
                "METHOD_NOT_ALLOWED",
                f"{verb} is not allowed here; use {', '.join(sorted(set(allowed)))}.",
                headers={"Allow": ", ".join(sorted(set(allowed)))},
            )
        raise GatewayError(404, "ROUTE_NOT_FOUND", f"No route for {verb} {path}.")
