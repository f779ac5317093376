"""The ruler: loads tenants' rule groups, evaluates each on its own aligned timer, sends
alerts to Alertmanager and recording results to remote write (ruler.md §4).

``Ruler(config, query, data_dir)`` takes the query function (LogQL instant query at ``t``
for a tenant) so it does not depend on the store; ``lokipy.ruler.service.ruler_for`` wires
it to a LogStore. ``Group.evaluate(t)`` is the whole evaluation step and runs without threads, so
tests drive it with a fake clock.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lokipy.ruler.alerting import AlertingRule, LabelPairs, QuerySample, RecordingRule, RuleEvalError
from lokipy.ruler.config import RulerConfig
from lokipy.ruler.notifier import Notifier, alert_payload, generator_url
from lokipy.ruler.remote_write import STALE_MARKER, RemoteWriter, RWSample
from lokipy.ruler.rules import GroupDef, canonical_query
from lokipy.ruler.store import LocalRuleStore
from lokipy.ruler.template import TemplateError

log = logging.getLogger("lokipy.ruler")
QueryFn = Callable[[str, int, str], list[QuerySample]]
Rule = AlertingRule | RecordingRule
S = 10**9


def fnv64a(text: str) -> int:
    h = 0xCBF29CE484222325
    for b in text.encode():
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


class Group:
    """One rule group of one tenant: its rules, their state, and the evaluation step."""

    def __init__(self, ruler: Ruler, tenant: str, namespace: str, gdef: GroupDef) -> None:
        cfg = ruler.config
        self.ruler = ruler
        self.tenant = tenant
        self.namespace = namespace
        self.gdef = gdef
        self.name = gdef.name
        self.interval = gdef.interval_ns or cfg.evaluation_interval
        self.rules: list[Rule] = [
            AlertingRule(r, cfg.external_labels, cfg.external_url) if r.alert else RecordingRule(r)
            for r in gdef.rules
        ]
        self.prev_series: list[set[LabelPairs]] = [set() for _ in self.rules]
        self.links = [
            generator_url(cfg.external_url, canonical_query(r.expr), cfg.datasource_uid) for r in gdef.rules
        ]
        self.last_evaluation_ns = 0
        self.evaluation_seconds = 0.0
        self.evaluations = 0  # rule evaluations, failures, skipped slots (operator metrics)
        self.failures = 0
        self.missed = 0
        # Evaluations left until the one-shot ``for``-state restore (0: done, or not wanted).
        self.restore_in = 2
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return self.tenant, self.namespace, self.name

    def adopt(self, old: Group) -> None:
        """Carry alert state over from the previous version of this group (reload)."""
        self.restore_in = old.restore_in
        by_name = {
            (r.name, tuple(sorted(r.rule.labels.items()))): r
            for r in old.rules
            if isinstance(r, AlertingRule)
        }
        for r in self.rules:
            prev = by_name.get((r.name, tuple(sorted(r.rule.labels.items()))))
            if isinstance(r, AlertingRule) and prev is not None:  # Prometheus: same name + labels
                r.active, r.status = prev.active, prev.status
        names = {r.name: i for i, r in enumerate(old.rules)}
        for i, r in enumerate(self.rules):
            if r.name in names:
                self.prev_series[i] = old.prev_series[names[r.name]]

    def next_slot(self, now: int) -> int:
        """The first aligned slot after ``now``: ``k·interval + hash(group) % interval``."""
        offset = fnv64a(f"{self.tenant}/{self.namespace};{self.name}") % self.interval
        adj = now - offset
        return adj - adj % self.interval + offset + self.interval

    def evaluate(self, t: int) -> tuple[list[RWSample], list[dict[str, Any]]]:
        """Evaluate every rule at ``t`` in order: (samples to remote-write, alerts to notify)."""
        cfg = self.ruler.config
        started = time.time_ns()
        t_ms = t // 1_000_000
        out: list[RWSample] = []
        notify: list[dict[str, Any]] = []
        for i, rule in enumerate(self.rules):
            rule_start = time.perf_counter()
            error = ""
            try:
                samples = self.ruler.run_query(rule.rule.expr, t, self.tenant)
                if isinstance(rule, AlertingRule):
                    series = rule.eval(t, samples, self.gdef.limit, self._template_query(t))
                else:
                    series = rule.eval(samples, self.gdef.limit)
            except RuleEvalError as err:
                error = str(err)
                series = None
            rule.status.set(error, time.time_ns(), time.perf_counter() - rule_start)
            self.evaluations += 1
            self.failures += bool(error)
            if series is None:
                continue
            if self.restore_in and isinstance(rule, AlertingRule):
                series = []  # Prometheus writes ALERTS and ALERTS_FOR_STATE only once restored
            current = {labels for labels, _ in series}
            out.extend((labels, t_ms, value) for labels, value in series)
            out.extend((labels, t_ms, STALE_MARKER) for labels in self.prev_series[i] - current)
            self.prev_series[i] = current
            if isinstance(rule, AlertingRule):
                url = self.links[i]
                for a in rule.alerts_to_send(t, cfg.resend_delay, self.interval):
                    notify.append(alert_payload(a, cfg.external_labels, url))
        # Prometheus restores `for` state once, right after the group's *second* evaluation
        # (the first may run before the data its rules need is there), at the wall-clock time
        # then, and writes ALERTS_FOR_STATE only from then on: persisting earlier would
        # overwrite the saved state with the fresh alerts of the first evaluation.
        if self.restore_in:
            self.restore_in -= 1
            if not self.restore_in:
                self.ruler.restore(self, self.ruler.clock())
        if not self.restore_in:
            self.ruler.persist(self, t)
        self.last_evaluation_ns = started
        self.evaluation_seconds = (time.time_ns() - started) / 1e9
        return out, notify

    def _template_query(self, t: int) -> Callable[[str], list[dict[str, Any]]]:
        def query(expr: str) -> list[dict[str, Any]]:
            try:
                samples = self.ruler.run_query(expr, t, self.tenant)
            except RuleEvalError as err:
                raise TemplateError(f"error executing query: {err}") from None
            return [{"Labels": dict(labels), "Value": value} for labels, value in samples]

        return query

    def stale_all(self, t: int) -> list[RWSample]:
        return [(labels, t // 1_000_000, STALE_MARKER) for s in self.prev_series for labels in s]

    def run(self) -> None:
        clock = self.ruler.clock
        slot = self.next_slot(clock())
        while not self.stop_event.wait(max(slot - clock(), 0) / 1e9):
            try:
                self.ruler.ship(self.tenant, *self.evaluate(slot))
            except Exception:  # a rule bug must not kill the timer
                log.exception("evaluating rule group %s/%s failed", self.namespace, self.name)
            now = clock()
            missed = max(0, (now - slot) // self.interval)
            self.missed += missed
            slot += self.interval * (1 + missed)  # overrunning slots are skipped, not caught up

    def start(self) -> None:
        self.thread = threading.Thread(target=self.run, name=f"ruler-{self.name}", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        if self.thread is not None and self.thread is not threading.current_thread():
            self.thread.join(10)


class Ruler:
    def __init__(
        self,
        config: RulerConfig,
        query: QueryFn,
        data_dir: Path | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.config = config
        directory = config.storage_directory or (str(data_dir / "rules") if data_dir else "")
        self.store = LocalRuleStore(directory) if directory else None
        self.state_dir = data_dir / "ruler-state" if data_dir else None
        self.query = query
        self.clock = clock
        self.groups: dict[tuple[str, str, str], Group] = {}
        self.errors: dict[tuple[str, str], str] = {}  # (tenant, namespace) → load error
        self.notifier: Notifier | None = None
        self.writers: dict[tuple[str, str], RemoteWriter] = {}
        self.lock = threading.RLock()
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        self.running = False

    # --- evaluation plumbing ------------------------------------------------------------

    def run_query(self, expr: str, t: int, tenant: str) -> list[QuerySample]:
        try:
            return self.query(expr, t, tenant)
        except RuleEvalError:
            raise
        except Exception as err:  # any engine error is the rule's lastError
            raise RuleEvalError(f"rule evaluation failed: {err}") from None

    def ship(self, tenant: str, samples: list[RWSample], alerts: list[dict[str, Any]]) -> None:
        if alerts and self.notifier is not None:
            self.notifier.send(tenant, alerts)
        if samples and self.config.remote_write_enabled:
            for cid, client in self.config.remote_write_clients.items():
                writer = self.writers.get((tenant, cid))
                if writer is None:
                    writer = self.writers[(tenant, cid)] = RemoteWriter(
                        client, tenant, self.config.add_org_id_header
                    )
                writer.append(samples)

    # --- alert state on disk (for-state restore) --------------------------------------------

    def _state_path(self, group: Group) -> Path | None:
        if self.state_dir is None:
            return None
        return self.state_dir / group.tenant / f"{fnv64a(f'{group.namespace};{group.name}'):016x}.json"

    def persist(self, group: Group, t: int) -> None:
        path = self._state_path(group)
        if path is None or not any(isinstance(r, AlertingRule) for r in group.rules):
            return
        state = {
            r.name: [[list(map(list, a.labels)), a.active_at] for a in r.visible_alerts()]
            for r in group.rules
            if isinstance(r, AlertingRule)
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"t": t, "rules": state}))
        os.replace(tmp, path)

    def restore(self, group: Group, now: int) -> None:
        path = self._state_path(group)
        if path is None or not path.exists():
            return
        try:
            saved = json.loads(path.read_text())
        except (OSError, ValueError):
            return
        # Prometheus reads ALERTS_FOR_STATE back: activeAt as the value in whole seconds and the
        # last evaluation as the ms sample time, both taken down to whole seconds.
        down_at = int(saved.get("t", 0)) // S * S
        for r in group.rules:
            if isinstance(r, AlertingRule) and r.name in saved.get("rules", {}):
                entries = {
                    tuple(map(tuple, lbs)): (int(at) // S * S, down_at) for lbs, at in saved["rules"][r.name]
                }
                r.restore(entries, now, self.config.for_grace_period, self.config.for_outage_tolerance)

    # --- loading --------------------------------------------------------------------------

    def load_tenant(self, tenant: str) -> dict[tuple[str, str, str], GroupDef]:
        assert self.store is not None
        found: dict[tuple[str, str, str], GroupDef] = {}
        for ns in self.store.namespaces(tenant).values():
            if ns.error:
                if self.errors.get((tenant, ns.name)) != ns.error:
                    log.error("unable to load rules of tenant %s: %s", tenant, ns.error)
                self.errors[(tenant, ns.name)] = ns.error
                for key, g in self.groups.items():  # keep running what that file had before
                    if key[:2] == (tenant, ns.name):
                        found[key] = g.gdef
                continue
            self.errors.pop((tenant, ns.name), None)
            for g in ns.groups:
                found[(tenant, ns.name, g.name)] = g
        return found

    def sync(self) -> None:
        """Re-list the store and apply changes (what ``poll_interval`` runs)."""
        if self.store is None:
            return
        wanted: dict[tuple[str, str, str], GroupDef] = {}
        for tenant in self.store.tenants():
            if self.config.tenant_enabled(tenant):
                wanted.update(self.load_tenant(tenant))
        with self.lock:
            started = {key[0] for key in self.groups}  # tenants whose rules already run
            for key in [k for k in self.groups if k not in wanted]:
                old = self.groups.pop(key)
                old.stop()
                self.ship(old.tenant, old.stale_all(self.clock()), [])
            for key, gdef in wanted.items():
                old = self.groups.get(key)
                if old is not None and old.gdef == gdef:
                    continue
                group = Group(self, key[0], key[1], gdef)
                if old is not None:
                    old.stop()
                    group.adopt(old)
                elif key[0] in started:  # Loki restores only the groups a tenant's rules start with
                    group.restore_in = 0
                self.groups[key] = group
                if self.running:
                    group.start()

    def thread_count(self) -> int:
        """Group timers running (0 until ``start``)."""
        with self.lock:
            return sum(1 for g in self.groups.values() if g.thread is not None and g.thread.is_alive())

    def tenant_groups(self, tenant: str) -> list[Group]:
        with self.lock:
            return sorted(
                (g for g in self.groups.values() if g.tenant == tenant), key=lambda g: (g.namespace, g.name)
            )

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        if self.config.alertmanager_urls:
            self.notifier = Notifier(
                self.config.alertmanager_urls,
                self.config.notification_queue_capacity,
                self.config.notification_timeout,
            )
        self.running = True
        wal = self.state_dir.parent / "ruler-wal" if self.state_dir else None
        if wal is not None and wal.is_dir() and self.config.remote_write_enabled:
            for spool in wal.glob("*/*.spool"):  # what the last stop could not send goes first
                if spool.stem in self.config.remote_write_clients:
                    self._writer(spool.parent.name, spool.stem)
        self.sync()
        with self.lock:
            for g in self.groups.values():
                if g.thread is None:
                    g.start()
        self._poller = threading.Thread(target=self._poll, name="ruler-poll", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        while not self._stop.wait(self.config.poll_interval / 1e9):
            try:
                self.sync()
            except Exception:
                log.exception("unable to list rules")

    def stop(self) -> None:
        self._stop.set()
        self.running = False
        with self.lock:
            for g in self.groups.values():
                g.stop()
        if self._poller is not None:
            self._poller.join(5)
        for w in self.writers.values():
            w.stop()
        if self.notifier is not None:
            self.notifier.stop()
