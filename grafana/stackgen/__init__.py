"""Generators for the bundled stack: Prometheus alert rules, their tests, Grafana dashboards.

Not part of the runtime package: ``grafana/generate.py`` (or ``scripts/generate-stack``) runs
it and writes the files the compose stack mounts. Every metric and label name comes from
:mod:`otel_agents.semconv` through :mod:`otel_agents._prometheus_names`, so a rename there
changes the generated files (and ``tests/stack`` fails until they are regenerated).
"""
