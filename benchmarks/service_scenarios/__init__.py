"""Service scenario suite: Prometheus history of a service and its dependencies with one fault each.

`generate` builds the scenarios and their OpenMetrics text, `prom` backfills it into a real
Prometheus, `score` measures `diagnose --service` (and the BARO-style anchor) against them.
"""
