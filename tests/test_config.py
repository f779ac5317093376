from __future__ import annotations

from pathlib import Path

import pytest

from lokipy.config import load_config
from lokipy.model.errors import InvalidInput


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "lokipy.yaml"
    path.write_text(text)
    return path


def test_flags_override_the_file_and_durations_parse(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "server:\n  http_listen_port: 9999\ningester:\n  chunk_idle_period: 5m\n"
        "limits_config:\n  reject_old_samples_max_age: 24h\n  discover_service_name: []\n",
    )
    cfg = load_config(path, data_dir=tmp_path / "d", http_listen_port=4444, http_listen_address=None)
    assert cfg.server.http_listen_port == 4444
    assert cfg.data_dir == tmp_path / "d"
    assert cfg.ingester.chunk_idle_period == 300 * 10**9
    assert cfg.limits.reject_old_samples_max_age == 24 * 3600 * 10**9
    assert cfg.limits.discover_service_name == ()


def test_per_tenant_overrides_replace_only_their_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "limits_config:\n  retention_period: 24h\n  max_line_size: 100\n"
        "overrides:\n  team-a:\n    retention_period: 1h\n",
    )
    cfg = load_config(path)
    assert cfg.limits_for("team-a").retention_period == 3600 * 10**9
    assert cfg.limits_for("team-a").max_line_size == 100
    assert cfg.limits_for("other").retention_period == 24 * 3600 * 10**9


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("bogus: 1\n", "unknown config key"),
        ("ingester:\n  chunk_size: 1\n", "unknown key(s) in config section 'ingester'"),
        ("ingester: 5\n", "must be a mapping"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_config(write(tmp_path, text))


def test_config_endpoint_shape_lists_every_section(tmp_path: Path) -> None:
    import yaml

    from lokipy.config import as_dict

    path = write(
        tmp_path, "overrides:\n  team-a:\n    retention_period: 1h\nruler:\n  evaluation_interval: 30s\n"
    )
    text = yaml.safe_dump(as_dict(load_config(path)))
    doc = yaml.safe_load(text)
    assert {"server", "limits_config", "ingester", "wal", "compactor", "overrides", "ruler"} <= set(doc)
    assert doc["overrides"]["team-a"]["retention_period"] == 3600 * 10**9
