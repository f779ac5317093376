"""The ruler's HTTP API (ruler.md §6): rule configuration as YAML under ``/loki/api/v1/rules``
and ``/api/prom/rules``; rule and alert state as Prometheus-shaped JSON for Grafana under
``/prometheus/api/v1/{rules,alerts}``.

``install_ruler(app, logstore, config)`` builds the ruler (not started), hangs it on the app
state and mounts the routes when ``enable_api`` is on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml
from fastapi import APIRouter, FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import PlainTextResponse, Response

from lokipy.api.responses import LokiJSON
from lokipy.api.state import AppState
from lokipy.api.tenant import tenant_of
from lokipy.config import Config
from lokipy.logstore import LogStore
from lokipy.model.errors import InvalidInput, NotFound
from lokipy.ruler.alerting import Alert, AlertingRule
from lokipy.ruler.gofmt import format_e
from lokipy.ruler.manager import Group, Ruler
from lokipy.ruler.notifier import rfc3339_nano
from lokipy.ruler.rules import (
    RuleFileError,
    canonical_query,
    decode_group,
    dump_yaml,
    group_to_dict,
    validate_groups,
)
from lokipy.ruler.service import ruler_for
from lokipy.ruler.store import LocalRuleStore

router = APIRouter()
YAML_TYPE = "application/yaml"
_OK = {"status": "success", "data": None, "errorType": "", "error": ""}


def install_ruler(app: FastAPI, logstore: LogStore, config: Config) -> Ruler | None:
    ruler = ruler_for(logstore, config)
    if ruler is None:
        return None
    state: AppState = app.state.lokipy
    state.extra["ruler"] = ruler
    if ruler.config.enable_api:
        app.include_router(router)
    return ruler


def _ctx(request: Request) -> tuple[Ruler, str]:
    state: AppState = request.app.state.lokipy
    ruler = state.extra.get("ruler")
    if not isinstance(ruler, Ruler):
        raise NotFound("the ruler is not configured")
    return ruler, tenant_of(request, state.config.server.auth_enabled)


def _text(body: str, status: int) -> Response:
    return PlainTextResponse(body.rstrip("\n") + "\n", status_code=status)


def _json_error(kind: str, msg: str, status: int) -> Response:
    return LokiJSON({"status": "error", "data": None, "errorType": kind, "error": msg}, status_code=status)


# --- YAML configuration API -------------------------------------------------------------------


def _namespaces(ruler: Ruler, tenant: str, only: str | None = None) -> dict[str, list[dict[str, Any]]]:
    if ruler.store is None:
        return {}
    out: dict[str, list[dict[str, Any]]] = {}
    for name, ns in ruler.store.namespaces(tenant).items():
        if (only is None or name == only) and ns.groups:
            out[name] = [group_to_dict(g) for g in ns.groups]
    return out


def _label_filter(spaces: dict[str, list[dict[str, Any]]], spec: str) -> dict[str, list[dict[str, Any]]]:
    wanted = {tuple(p.split(":", 1)) for p in spec.split(",") if ":" in p}
    out: dict[str, list[dict[str, Any]]] = {}
    for ns, groups in spaces.items():
        kept = []
        for g in groups:
            rules = [r for r in g["rules"] if any(r.get("labels", {}).get(k) == v for k, v in wanted)]
            if rules:
                kept.append({**g, "rules": rules})
        if kept:
            out[ns] = kept
    return out


def _yaml(value: Any) -> Response:
    return Response(dump_yaml(value), media_type=YAML_TYPE)


async def list_rules(request: Request) -> Response:
    ruler, tenant = _ctx(request)
    spaces = _namespaces(ruler, tenant)
    if request.query_params.get("labels"):
        spaces = _label_filter(spaces, request.query_params["labels"])
    if not spaces:
        return _text("no rule groups found", 404)
    return _yaml(spaces)


async def get_namespace(request: Request, namespace: str) -> Response:
    ruler, tenant = _ctx(request)
    try:
        spaces = _namespaces(ruler, tenant, namespace)
    except InvalidInput as err:
        return _text(str(err), 400)
    if not spaces:
        return _text("no rule groups found", 404)
    return _yaml(spaces)


async def get_group(request: Request, namespace: str, group: str) -> Response:
    ruler, tenant = _ctx(request)
    try:
        groups = _namespaces(ruler, tenant, namespace).get(namespace, [])
    except InvalidInput as err:
        return _text(str(err), 400)
    for g in groups:
        if g["name"] == group:
            return _yaml(g)
    return _text("rule group does not exist", 404)


async def set_group(request: Request, namespace: str) -> Response:
    ruler, tenant = _ctx(request)
    if ruler.store is None:
        return _text("SetRuleGroup unsupported: no rule storage configured", 500)
    try:
        raw = yaml.safe_load(await request.body())
        gdef = decode_group(raw, strict=False)
    except (yaml.YAMLError, RuleFileError):
        return _text("unable to decoded rule group", 400)
    errors = validate_groups([gdef])
    if errors:
        return _text(", ".join(errors), 400)
    try:
        ruler.store.set_group(tenant, namespace, gdef)
    except InvalidInput as err:
        return _text(str(err), 400)
    await run_in_threadpool(ruler.sync)  # may wait for a running evaluation to finish
    return LokiJSON(_OK, status_code=202)


async def delete_group(request: Request, namespace: str, group: str) -> Response:
    return await _delete(request, lambda store, tenant: store.delete_group(tenant, namespace, group))


async def delete_namespace(request: Request, namespace: str) -> Response:
    return await _delete(request, lambda store, tenant: store.delete_namespace(tenant, namespace))


async def _delete(request: Request, delete: Callable[[LocalRuleStore, str], None]) -> Response:
    """Run ``delete(rule_store, tenant)``, then reload the ruler (Loki answers 202)."""
    ruler, tenant = _ctx(request)
    if ruler.store is None:
        return _json_error("server_error", "no rule storage configured", 500)
    try:
        delete(ruler.store, tenant)
    except NotFound as err:
        return _json_error("not_found", str(err), 404)
    except InvalidInput as err:
        return _json_error("bad_data", str(err), 400)
    await run_in_threadpool(ruler.sync)  # may wait for a running evaluation to finish
    return LokiJSON(_OK, status_code=202)


for _prefix in ("/loki/api/v1/rules", "/api/prom/rules"):
    router.add_api_route(_prefix, list_rules, methods=["GET"])
    router.add_api_route(_prefix + "/{namespace}", get_namespace, methods=["GET"])
    router.add_api_route(_prefix + "/{namespace}", set_group, methods=["POST"])
    router.add_api_route(_prefix + "/{namespace}", delete_namespace, methods=["DELETE"])
    router.add_api_route(_prefix + "/{namespace}/{group}", get_group, methods=["GET"])
    router.add_api_route(_prefix + "/{namespace}/{group}", delete_group, methods=["DELETE"])


# --- Prometheus-shaped state API (Grafana) ----------------------------------------------------


def _alert_json(a: Alert) -> dict[str, Any]:
    return {
        "labels": dict(a.labels),
        "annotations": dict(a.annotations),
        "state": a.state,
        "activeAt": rfc3339_nano(a.active_at),
        "value": format_e(a.value),
    }


def _rule_json(rule: Any) -> dict[str, Any]:
    st = rule.status
    common = {
        "health": st.health,
        "lastError": st.last_error,
        "lastEvaluation": rfc3339_nano(st.last_evaluation_ns),
        "evaluationTime": st.evaluation_seconds,
    }
    if isinstance(rule, AlertingRule):
        return {
            "state": rule.state(),
            "name": rule.name,
            "query": canonical_query(rule.rule.expr),
            "duration": rule.hold_ns / 1e9,
            "labels": dict(rule.rule.labels),
            "annotations": dict(rule.rule.annotations),
            "alerts": [_alert_json(a) for a in rule.visible_alerts()],
            **common,
            "type": "alerting",
        }
    return {"name": rule.name, "query": canonical_query(rule.rule.expr), "labels": dict(rule.rule.labels), **common,
            "type": "recording"}  # fmt: skip


def _group_json(g: Group, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": g.name,
        "file": g.namespace,
        "rules": rules,
        "interval": g.interval / 1e9,
        "limit": g.gdef.limit,
        "lastEvaluation": rfc3339_nano(g.last_evaluation_ns),
        "evaluationTime": g.evaluation_seconds,
    }


@router.get("/prometheus/api/v1/rules")
@router.get("/api/prom/api/v1/rules")
async def prom_rules(request: Request) -> Response:
    ruler, tenant = _ctx(request)
    kind = request.query_params.get("type", "")
    if kind not in ("", "alert", "record"):
        return _json_error("bad_data", f'not supported value "{kind}"', 400)
    files = set(request.query_params.getlist("file"))
    groups_f = set(request.query_params.getlist("rule_group"))
    names = set(request.query_params.getlist("rule_name"))
    out = []
    for g in sorted(ruler.tenant_groups(tenant), key=lambda g: g.namespace):
        if (files and g.namespace not in files) or (groups_f and g.name not in groups_f):
            continue
        rules = []
        for r in g.rules:
            is_alert = isinstance(r, AlertingRule)
            if (kind == "alert" and not is_alert) or (kind == "record" and is_alert):
                continue
            if names and r.name not in names:
                continue
            rules.append(_rule_json(r))
        if rules:
            out.append(_group_json(g, rules))
    return LokiJSON({"status": "success", "data": {"groups": out}, "errorType": "", "error": ""})


@router.get("/prometheus/api/v1/alerts")
@router.get("/api/prom/api/v1/alerts")
async def prom_alerts(request: Request) -> Response:
    ruler, tenant = _ctx(request)
    alerts = [
        _alert_json(a)
        for g in ruler.tenant_groups(tenant)
        for r in g.rules
        if isinstance(r, AlertingRule)
        for a in r.visible_alerts()
    ]
    return LokiJSON({"status": "success", "data": {"alerts": alerts}, "errorType": "", "error": ""})
