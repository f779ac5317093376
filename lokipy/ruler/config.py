"""The ``ruler:`` block of the config, with Loki's key names and flag defaults (ruler.md §2).

Cluster machinery (ring, sharding, discovery, query-frontend evaluation) is accepted and
ignored so a Loki config loads unchanged; unknown keys are refused, naming them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from lokipy.model.errors import InvalidInput
from lokipy.model.timeparse import parse_prometheus_duration

S = 10**9

# Keys Loki knows that lokipy accepts without acting on them (single process, local store).
_ACCEPTED_IGNORED = frozenset({
    "rule_path", "enable_alertmanager_discovery", "alertmanager_refresh_interval",
    "enable_sharding", "sharding_strategy", "sharding_algo", "ring", "search_pending_for",
    "flush_period", "ruler_client", "query_stats_enabled", "disable_rule_group_label",
    "wal_cleaner", "evaluation", "enabled_tenants", "disabled_tenants", "alert_relabel_configs",
    "datasource_uid", "wal",
})  # fmt: skip


def duration(value: Any, key: str) -> int:
    """A Prometheus duration (``1m``, ``90s``) or bare seconds → ns."""
    if isinstance(value, bool):
        raise InvalidInput(f"ruler: {key}: not a duration: {value!r}")
    if isinstance(value, int | float):
        return int(value * S)
    if isinstance(value, str):
        return parse_prometheus_duration(value)
    raise InvalidInput(f"ruler: {key}: not a duration: {value!r}")


@dataclass(frozen=True, slots=True)
class RemoteWriteClient:
    """One Prometheus ``remote_write`` entry (the keys lokipy acts on)."""

    url: str
    name: str = ""
    remote_timeout: int = 30 * S
    headers: Mapping[str, str] = field(default_factory=dict)
    capacity: int = 10000
    max_samples_per_send: int = 2000
    batch_send_deadline: int = 5 * S
    min_backoff: int = 30 * S // 1000
    max_backoff: int = 5 * S
    retry_on_http_429: bool = False
    basic_auth: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True)
class RulerConfig:
    storage_directory: str = ""  # storage.local.directory: <dir>/<tenant>/<namespace file>
    evaluation_interval: int = 60 * S
    poll_interval: int = 60 * S
    alertmanager_urls: tuple[str, ...] = ()
    alertmanager_basic_auth: tuple[str, str] | None = None  # alertmanager_client.basic_auth_*
    notification_queue_capacity: int = 10000
    notification_timeout: int = 10 * S
    external_url: str = ""
    datasource_uid: str = ""
    external_labels: Mapping[str, str] = field(default_factory=dict)
    resend_delay: int = 60 * S
    for_outage_tolerance: int = 3600 * S
    for_grace_period: int = 600 * S
    enable_api: bool = True
    remote_write_enabled: bool = False
    remote_write_clients: Mapping[str, RemoteWriteClient] = field(default_factory=dict)
    add_org_id_header: bool = True
    enabled_tenants: tuple[str, ...] = ()
    disabled_tenants: tuple[str, ...] = ()

    def tenant_enabled(self, tenant: str) -> bool:
        if self.enabled_tenants and tenant not in self.enabled_tenants:
            return False
        return tenant not in self.disabled_tenants


def _mapping(raw: Any, where: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidInput(f"config section {where!r} must be a mapping")
    return raw


def _tenants(raw: Any) -> tuple[str, ...]:
    if not raw:
        return ()
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    return tuple(t.strip() for t in items if t.strip())


def _storage_dir(raw: Any, where: str) -> str:
    storage = _mapping(raw, where)
    kind = storage.get("type", storage.get("backend", ""))
    if kind not in ("", "local"):
        raise InvalidInput(f"{where}: unsupported rule storage type {kind!r} (lokipy supports 'local')")
    local = _mapping(storage.get("local"), f"{where}.local")
    return str(local.get("directory", "") or "")


def _client(cid: str, raw: Any) -> RemoteWriteClient:
    c = _mapping(raw, f"ruler.remote_write.clients.{cid}")
    if not c.get("url"):
        raise InvalidInput(f"ruler.remote_write.clients.{cid}: url is required")
    q = _mapping(c.get("queue_config"), f"ruler.remote_write.clients.{cid}.queue_config")
    auth = _mapping(c.get("basic_auth"), "basic_auth")
    return RemoteWriteClient(
        url=str(c["url"]),
        name=str(c.get("name", "")),
        remote_timeout=duration(c.get("remote_timeout", "30s"), "remote_timeout"),
        headers={str(k): str(v) for k, v in _mapping(c.get("headers"), "headers").items()},
        capacity=int(q.get("capacity", 10000)),
        max_samples_per_send=int(q.get("max_samples_per_send", 2000)),
        batch_send_deadline=duration(q.get("batch_send_deadline", "5s"), "batch_send_deadline"),
        min_backoff=duration(q.get("min_backoff", "30ms"), "min_backoff"),
        max_backoff=duration(q.get("max_backoff", "5s"), "max_backoff"),
        retry_on_http_429=bool(q.get("retry_on_http_429", False)),
        basic_auth=(str(auth.get("username", "")), str(auth.get("password", ""))) if auth else None,
    )


_KEYS = frozenset({
    "storage", "evaluation_interval", "poll_interval", "alertmanager_url", "enable_alertmanager_v2",
    "notification_queue_capacity", "notification_timeout", "external_url", "external_labels",
    "resend_delay", "for_outage_tolerance", "for_grace_period", "enable_api", "remote_write",
    "alertmanager_client",
}) | _ACCEPTED_IGNORED  # fmt: skip


def parse_ruler_config(raw: Any, ruler_storage: Any = None) -> RulerConfig:
    """Build a :class:`RulerConfig` from the YAML ``ruler:`` mapping (and ``ruler_storage:``)."""
    r = _mapping(raw, "ruler")
    unknown = sorted(set(r) - _KEYS)
    if unknown:
        raise InvalidInput(f"unknown key(s) in config section 'ruler': {', '.join(unknown)}")
    if r.get("enable_alertmanager_v2", True) is not True:
        raise InvalidInput("ruler: enable_alertmanager_v2: only the Alertmanager v2 API is supported")
    directory = _storage_dir(r.get("storage"), "ruler.storage")
    if ruler_storage is not None:
        alias = _storage_dir(ruler_storage, "ruler_storage")
        if directory and alias and alias != directory:
            raise InvalidInput("ruler.storage and ruler_storage are both set and differ")
        directory = directory or alias
    urls = r.get("alertmanager_url") or ""
    url_list = urls.split(",") if isinstance(urls, str) else [str(u) for u in urls]
    url_list = [u.strip() for u in url_list if u.strip()]
    for u in url_list:
        if urlsplit(u).scheme not in ("http", "https"):
            raise InvalidInput(f"ruler: alertmanager_url: invalid URL {u!r}")
    rw = _mapping(r.get("remote_write"), "ruler.remote_write")
    clients = {str(k): _client(str(k), v) for k, v in _mapping(rw.get("clients"), "clients").items()}
    if rw.get("client"):  # Loki's deprecated single-client spelling
        clients.setdefault("default", _client("default", rw["client"]))
    ext = _mapping(r.get("external_labels"), "ruler.external_labels")
    am_client = _mapping(r.get("alertmanager_client"), "ruler.alertmanager_client")
    am_user = str(am_client.get("basic_auth_username", "") or "")
    return RulerConfig(
        storage_directory=directory,
        evaluation_interval=duration(r.get("evaluation_interval", "1m"), "evaluation_interval"),
        poll_interval=duration(r.get("poll_interval", "1m"), "poll_interval"),
        alertmanager_urls=tuple(url_list),
        alertmanager_basic_auth=(am_user, str(am_client.get("basic_auth_password", "") or ""))
        if am_user
        else None,
        notification_queue_capacity=int(r.get("notification_queue_capacity", 10000)),
        notification_timeout=duration(r.get("notification_timeout", "10s"), "notification_timeout"),
        external_url=str(r.get("external_url", "") or ""),
        datasource_uid=str(r.get("datasource_uid", "") or ""),
        external_labels={str(k): str(v) for k, v in ext.items()},
        resend_delay=duration(r.get("resend_delay", "1m"), "resend_delay"),
        for_outage_tolerance=duration(r.get("for_outage_tolerance", "1h"), "for_outage_tolerance"),
        for_grace_period=duration(r.get("for_grace_period", "10m"), "for_grace_period"),
        enable_api=bool(r.get("enable_api", True)),
        remote_write_enabled=bool(rw.get("enabled", False)),
        remote_write_clients=clients,
        add_org_id_header=bool(rw.get("add_org_id_header", True)),
        enabled_tenants=_tenants(r.get("enabled_tenants")),
        disabled_tenants=_tenants(r.get("disabled_tenants")),
    )
