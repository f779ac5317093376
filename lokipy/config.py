"""Configuration: frozen dataclasses carrying Loki's defaults, merged from YAML and flags here only.

Key names follow Loki's YAML (``limits_config``, ``ingester``, ``server``) so a reader of Loki's
docs recognises them; ``docs/operations.md`` lists every key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from lokipy.model.errors import InvalidInput
from lokipy.model.timeparse import parse_prometheus_duration
from lokipy.ruler.config import RulerConfig, parse_ruler_config

MIB = 1 << 20
HOUR_NS = 3600 * 10**9
MINUTE_NS = 60 * 10**9

# Loki 3.x adds service_name from the first of these labels present (distributor default).
DEFAULT_SERVICE_NAME_LABELS = (
    "service", "app", "application", "app_name", "name", "app_kubernetes_io_name", "container",
    "container_name", "k8s_container_name", "component", "workload", "job", "k8s_job_name",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-tenant limits (Loki's ``limits_config``), with Loki's defaults."""

    max_line_size: int = 256 * 1024
    max_line_size_truncate: bool = False
    max_label_names_per_series: int = 15
    max_label_name_length: int = 1024
    max_label_value_length: int = 2048
    reject_old_samples: bool = True
    reject_old_samples_max_age: int = 7 * 24 * HOUR_NS
    creation_grace_period: int = 10 * MINUTE_NS
    allow_structured_metadata: bool = True
    max_structured_metadata_size: int = 64 * 1024
    max_structured_metadata_entries_count: int = 128
    ingestion_rate_mb: float = 4.0
    ingestion_burst_size_mb: float = 6.0
    max_global_streams_per_user: int = 5000
    # Loki 3.x defaults: both on. An empty tuple turns service_name discovery off.
    discover_service_name: tuple[str, ...] = DEFAULT_SERVICE_NAME_LABELS
    discover_log_levels: bool = True
    max_entries_limit_per_query: int = 5000
    max_query_length: int = 721 * HOUR_NS
    max_query_series: int = 500
    query_timeout: int = 60 * 10**9
    retention_period: int = 0  # 0 keeps data forever; applied by the compactor


@dataclass(frozen=True, slots=True)
class IngesterConfig:
    """Head, block and chunk cutting (Loki's ``ingester`` block)."""

    chunk_block_size: int = 262144  # raw bytes in a head block before it is cut and compressed
    chunk_target_size: int = 1572864  # compressed bytes at which a chunk is closed
    chunk_idle_period: int = 30 * MINUTE_NS
    max_chunk_age: int = 2 * HOUR_NS  # also sets the out-of-order window (half of it)
    flush_check_period: int = 10**9
    zstd_level: int = 1  # level 1: faster than 3 and no larger on log text (docs/format/chunk.md)


@dataclass(frozen=True, slots=True)
class WALConfig:
    enabled: bool = True
    segment_size: int = 64 * MIB
    # Past this size the streams pinning the oldest segment are flushed so it can be deleted.
    max_bytes: int = 512 * MIB
    # False: each push is written to the OS before it is acknowledged (survives kill -9).
    # True: also fsync'd (survives power loss), at the cost of one fsync per push.
    fsync: bool = False


@dataclass(frozen=True, slots=True)
class CompactorConfig:
    """Loki's ``compactor`` block: merging small chunks and applying retention."""

    compaction_interval: int = 10 * MINUTE_NS
    retention_enabled: bool = False
    # Chunks smaller than this (compressed bytes) are merged with their stream's neighbours.
    min_chunk_size: int = 256 * 1024


@dataclass(frozen=True, slots=True)
class ServerConfig:
    http_listen_address: str = "127.0.0.1"
    http_listen_port: int = 3100
    max_recv_msg_size: int = 100 * MIB
    max_decompressed_size: int = 5000 * MIB
    auth_enabled: bool = False


@dataclass(frozen=True, slots=True)
class Config:
    data_dir: Path | None = None  # None: a temporary directory, removed on close
    server: ServerConfig = field(default_factory=ServerConfig)
    limits: Limits = field(default_factory=Limits)
    ingester: IngesterConfig = field(default_factory=IngesterConfig)
    wal: WALConfig = field(default_factory=WALConfig)
    compactor: CompactorConfig = field(default_factory=CompactorConfig)
    # Per-tenant limits (Loki's runtime ``overrides``), each a complete Limits.
    overrides: Mapping[str, Limits] = field(default_factory=dict)
    ruler: RulerConfig | None = None  # None: no ``ruler:`` block, the ruler does not run

    def limits_for(self, tenant: str) -> Limits:
        return self.overrides.get(tenant, self.limits)

    def with_limits(self, **changes: Any) -> Config:
        return replace(self, limits=replace(self.limits, **changes))


_DURATION_KEYS = {
    "reject_old_samples_max_age", "creation_grace_period", "max_query_length", "query_timeout",
    "chunk_idle_period", "max_chunk_age", "flush_check_period", "retention_period",
    "compaction_interval",
}  # fmt: skip
_SECTIONS = {
    "server": ServerConfig,
    "limits_config": Limits,
    "ingester": IngesterConfig,
    "wal": WALConfig,
    "compactor": CompactorConfig,
}


def _coerce(cls: type, key: str, value: Any) -> Any:
    if key in _DURATION_KEYS and isinstance(value, str):
        return parse_prometheus_duration(value)
    if key in _DURATION_KEYS and isinstance(value, int | float):
        return int(value * 10**9)  # bare numbers are seconds
    if key == "discover_service_name":
        return tuple(value or ())
    return value


def _section(cls: type, raw: Any, name: str) -> Any:
    if raw is None:
        return cls()
    if not isinstance(raw, dict):
        raise InvalidInput(f"config section {name!r} must be a mapping")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise InvalidInput(f"unknown key(s) in config section {name!r}: {', '.join(unknown)}")
    return cls(**{k: _coerce(cls, k, v) for k, v in raw.items()})


def _override(base: Limits, values: Any, tenant: str) -> Limits:
    """A tenant's limits: the global ``limits_config`` with the tenant's keys replaced."""
    if not values:
        return base
    changes = _section(Limits, values, f"overrides.{tenant}")  # validates keys and units
    return replace(base, **{k: getattr(changes, k) for k in values})


def load_config(path: str | Path | None = None, **overrides: Any) -> Config:
    """Read a YAML file (Loki-style sections) and apply flag overrides (``data_dir``, ...)."""
    raw: dict[str, Any] = {}
    if path is not None:
        loaded = yaml.safe_load(Path(path).read_text()) or {}
        if not isinstance(loaded, dict):
            raise InvalidInput(f"config file {path} must hold a mapping")
        raw = loaded
    kwargs: dict[str, Any] = {}
    for key, cls in _SECTIONS.items():
        attr = "limits" if key == "limits_config" else key
        kwargs[attr] = _section(cls, raw.get(key), key)
    if "auth_enabled" in raw:
        kwargs["server"] = replace(kwargs["server"], auth_enabled=bool(raw["auth_enabled"]))
    if "data_dir" in raw:
        kwargs["data_dir"] = Path(raw["data_dir"])
    tenant_overrides = raw.get("overrides") or {}
    if not isinstance(tenant_overrides, dict):
        raise InvalidInput("config section 'overrides' must map tenant ids to limits")
    kwargs["overrides"] = {
        str(tenant): _override(kwargs["limits"], values, str(tenant))
        for tenant, values in tenant_overrides.items()
    }
    if raw.get("ruler") is not None or raw.get("ruler_storage") is not None:
        kwargs["ruler"] = parse_ruler_config(raw.get("ruler"), raw.get("ruler_storage"))
    unknown = sorted(
        set(raw) - set(_SECTIONS) - {"auth_enabled", "data_dir", "overrides", "ruler", "ruler_storage"}
    )
    if unknown:
        raise InvalidInput(f"unknown config key(s): {', '.join(unknown)}")
    cfg = Config(**kwargs)
    server_changes = {
        k: v
        for k, v in overrides.items()
        if v is not None and k in ("http_listen_address", "http_listen_port")
    }
    if server_changes:
        cfg = replace(cfg, server=replace(cfg.server, **server_changes))
    if overrides.get("data_dir") is not None:
        cfg = replace(cfg, data_dir=Path(overrides["data_dir"]))
    return cfg


def as_dict(cfg: Config) -> dict[str, Any]:
    """The effective config as Loki-style YAML sections (for ``GET /config``)."""
    out: dict[str, Any] = {"auth_enabled": cfg.server.auth_enabled}
    out["data_dir"] = str(cfg.data_dir) if cfg.data_dir else None
    for key, attr in (
        ("server", "server"),
        ("limits_config", "limits"),
        ("ingester", "ingester"),
        ("wal", "wal"),
        ("compactor", "compactor"),
    ):
        out[key] = _plain(dataclasses.asdict(getattr(cfg, attr)))
    out["overrides"] = {tenant: _plain(dataclasses.asdict(lim)) for tenant, lim in cfg.overrides.items()}
    if cfg.ruler is not None:
        out["ruler"] = _plain(dataclasses.asdict(cfg.ruler))
    return out


def _plain(section: dict[str, Any]) -> Any:
    """Tuples and paths as YAML-friendly lists and strings."""
    if isinstance(section, dict):
        return {k: _plain(v) for k, v in section.items()}
    if isinstance(section, tuple | list):
        return [_plain(v) for v in section]
    if isinstance(section, Path):
        return str(section)
    return section
