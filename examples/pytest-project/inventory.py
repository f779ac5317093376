"""A tiny inventory service that logs to Loki through lokipy's logging handler."""

from __future__ import annotations

import logging

from lokipy.handler import LokiHandler

log = logging.getLogger("inventory")


def ship_logs_to(url: str, tenant: str | None = None) -> LokiHandler:
    """Production and tests alike: records of ``inventory`` go to the Loki at ``url``."""
    handler = LokiHandler(
        url,
        {"app": "inventory"},
        label_attrs={"levelname": "level"},
        metadata_attrs=("sku",),
        tenant=tenant,
        flush_interval=0.1,
    )
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    return handler


class Inventory:
    def __init__(self) -> None:
        self.stock: dict[str, int] = {}

    def add(self, sku: str, qty: int) -> None:
        self.stock[sku] = self.stock.get(sku, 0) + qty
        log.info("added %d of %s", qty, sku, extra={"sku": sku})

    def reserve(self, sku: str, qty: int) -> bool:
        have = self.stock.get(sku, 0)
        if have < qty:
            log.warning("cannot reserve %d of %s: %d in stock", qty, sku, have, extra={"sku": sku})
            return False
        self.stock[sku] = have - qty
        log.info("reserved %d of %s", qty, sku, extra={"sku": sku})
        return True
