"""Findings out to what operators already run: a Prometheus Alertmanager, or a JSON webhook.

The console never waits on a receiver: findings are offered to a bounded queue, a background
task sends them with retries, and when the queue is full the oldest batch is dropped (the
next batch carries the whole current state anyway).
"""
