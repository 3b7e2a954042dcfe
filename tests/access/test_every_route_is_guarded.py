"""No route that serves an analysis escapes the policy: every one of them, called for an
analysis of team a, answers 401 without credentials and 404 to a member of team b."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from app.config import Settings
from tests.access.accounts import HTML, bearer, token_for
from tests.access.test_access_api import owned_analysis


def all_routes(app: FastAPI) -> list[APIRoute]:
    """Every APIRoute of the app, inside included routers too (whatever FastAPI's layout)."""
    found: list[APIRoute] = []
    stack = list(app.routes)
    while stack:
        route = stack.pop()
        if isinstance(route, APIRoute):
            found.append(route)
        inner = getattr(route, "original_router", None) or getattr(route, "routes", None)
        if inner is not None:
            stack.extend(getattr(inner, "routes", inner))
    return found


def concrete(path: str, analysis_id: str) -> str:
    path = path.replace("{analysis_id}", analysis_id)
    return re.sub(r"\{[^}]+\}", "1", path)


def test_every_route_with_an_analysis_id_is_behind_the_policy(
    local_client: TestClient, local_settings: Settings
) -> None:
    analysis_id = owned_analysis(local_settings, "alice", "a")
    carol = bearer(token_for(local_settings, "carol"))
    routes = [r for r in all_routes(local_client.app) if "{analysis_id}" in r.path]  # type: ignore[arg-type]
    assert len(routes) >= 15  # pages, API, log viewer, raw files, shares, delete, extend, re-run
    for route in routes:
        for method in route.methods - {"HEAD"}:
            url = concrete(route.path, analysis_id)
            anonymous = local_client.request(method, url)
            assert anonymous.status_code == 401, (method, route.path)
            outsider = local_client.request(method, url, headers={**HTML, **carol})
            assert outsider.status_code == 404, (method, route.path, outsider.status_code)


def test_only_health_checks_metrics_and_the_login_are_open(
    local_client: TestClient,
) -> None:
    open_paths = set()
    for route in all_routes(local_client.app):  # type: ignore[arg-type]
        if "{" in route.path or "GET" not in route.methods:
            continue
        if local_client.get(route.path, follow_redirects=False).status_code == 200:
            open_paths.add(route.path)
    assert open_paths == {
        "/healthz",
        "/readyz",
        "/metrics",
        "/login",
        "/docs",
        "/docs/oauth2-redirect",
        "/redoc",
        "/api/v1/signatures",
        "/signatures",
    }
