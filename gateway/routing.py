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
    """Templates bucketed by segment count and first resource (`/v1/<resource>/…`), so a request
    is tried against the few templates that could match it, most specific first."""

    def __init__(self, routes: list[RouteSpec]) -> None:
        self.routes = routes
        by_length: dict[int, list[tuple[Template, RouteSpec]]] = defaultdict(list)
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
            by_length[len(template.segments)].append((template, route))
        # (length, resource) → candidates; a template whose resource is a variable is a
        # candidate for every resource of its length (the (length, None) bucket).
        self._buckets: dict[tuple[int, str | None], list[tuple[Template, RouteSpec]]] = {}
        for length, pairs in by_length.items():
            variable = [p for p in pairs if _resource(p[0]) is None]
            for resource in {_resource(t) for t, _ in pairs}:
                found = [p for p in pairs if _resource(p[0]) == resource]
                if resource is not None:
                    found += variable
                found.sort(key=lambda pair: pair[0].specificity, reverse=True)
                self._buckets[(length, resource)] = found
            self._buckets.setdefault((length, None), [])

    def match(self, verb: str, path: str) -> tuple[RouteSpec, dict[str, str]]:
        parts = path.strip("/").split("/")
        length = len(parts)
        candidates = self._buckets.get((length, parts[1] if length > 1 else None))
        if candidates is None:  # no template names this resource: only variable ones may match
            candidates = self._buckets.get((length, None), [])
        allowed: list[str] = []
        for template, route in candidates:
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


def _resource(template: Template) -> str | None:
    """The segment after the version (`labels` in `/v1/labels/{id}`); None when it is a
    variable or absent."""
    if len(template.segments) < 2 or template.segments[1].startswith("{"):
        return None
    return template.segments[1]
