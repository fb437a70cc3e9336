"""Prometheus as a fleet source: settings, the HTTP API client, queries and sample building."""
