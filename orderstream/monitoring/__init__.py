"""Monitoring of the stack: Prometheus/Alertmanager configuration, the alert receiver, the
`orderstream alerts` listing and the Grafana dashboards built as code."""
