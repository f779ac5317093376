"""The ruler: LogQL alerting and recording rules (Loki's ruler; see docs/alerting.md).

Kept import-light: ``lokipy.config`` imports ``lokipy.ruler.config``. The ruler itself is
``lokipy.ruler.manager.Ruler``; ``lokipy.ruler.service.ruler_for`` wires it to a LogStore.
"""
