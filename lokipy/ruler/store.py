"""The local rule store: ``<directory>/<tenant>/<namespace file>`` (ruler.md §3).

Every non-hidden regular file directly inside a non-hidden tenant folder is one namespace
named after the file. Unlike Loki, a bad file is reported on its own and the others still
load, and the store is writable through the API (atomic replace of the namespace file).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lokipy.model.errors import InvalidInput, NotFound
from lokipy.ruler.rules import GroupDef, RuleFileError, dump_yaml, group_to_dict, load_text


@dataclass(frozen=True, slots=True)
class Namespace:
    name: str
    groups: tuple[GroupDef, ...]
    error: str = ""  # non-empty: the file did not load; groups is empty
    mtime_ns: int = 0


def _check_name(name: str) -> str:
    if (
        not name
        or name in (".", "..")
        or "/" in name
        or "\\" in name
        or "\x00" in name
        or name.startswith(".")
    ):
        raise InvalidInput("path traversal not allowed")
    return name


class LocalRuleStore:
    def __init__(self, directory: str | Path) -> None:
        self.root = Path(directory)

    def tenants(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if not p.name.startswith(".") and p.is_dir())

    def namespaces(self, tenant: str) -> dict[str, Namespace]:
        """Every namespace of the tenant; files that fail carry their error instead of groups."""
        folder = self.root / _check_name(tenant)
        out: dict[str, Namespace] = {}
        if not folder.is_dir():
            return out
        for path in sorted(folder.iterdir()):
            if path.name.startswith(".") or not path.is_file():
                continue
            out[path.name] = self._load(path)
        return out

    def _load(self, path: Path) -> Namespace:
        try:
            mtime = path.stat().st_mtime_ns
            groups = load_text(path.read_text(encoding="utf-8"))
        except RuleFileError as err:
            return Namespace(path.name, (), f"{path.name}: {err}", mtime)
        except (OSError, UnicodeDecodeError) as err:
            return Namespace(path.name, (), f"{path.name}: {err}")
        return Namespace(path.name, tuple(groups), "", mtime)

    def namespace(self, tenant: str, namespace: str) -> Namespace:
        path = self.root / _check_name(tenant) / _check_name(namespace)
        if not path.is_file():
            raise NotFound("no rule groups found")
        return self._load(path)

    def _write(self, tenant: str, namespace: str, groups: list[GroupDef]) -> None:
        folder = self.root / _check_name(tenant)
        path = folder / _check_name(namespace)
        if not groups:
            path.unlink(missing_ok=True)
            return
        folder.mkdir(parents=True, exist_ok=True)
        text = dump_yaml({"groups": [group_to_dict(g) for g in groups]})
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def set_group(self, tenant: str, namespace: str, group: GroupDef) -> None:
        """Replace the group of that name in the namespace, or append it."""
        path = self.root / _check_name(tenant) / _check_name(namespace)
        groups: list[GroupDef] = []
        if path.is_file():
            ns = self._load(path)
            if ns.error:
                raise InvalidInput(ns.error)
            groups = list(ns.groups)
        for i, g in enumerate(groups):
            if g.name == group.name:
                groups[i] = group
                break
        else:
            groups.append(group)
        self._write(tenant, namespace, groups)

    def delete_group(self, tenant: str, namespace: str, group: str) -> None:
        ns = self.namespace(tenant, namespace)
        kept = [g for g in ns.groups if g.name != group]
        if len(kept) == len(ns.groups):
            raise NotFound("rule group does not exist")
        self._write(tenant, namespace, kept)

    def delete_namespace(self, tenant: str, namespace: str) -> None:
        path = self.root / _check_name(tenant) / _check_name(namespace)
        if not path.is_file():
            raise NotFound("namespace does not exist")
        path.unlink()
