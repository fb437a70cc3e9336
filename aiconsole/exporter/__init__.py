"""``aiconsole serve``: the console's latest snapshot as Prometheus metrics.

Imported only by the ``serve`` command: ``prometheus_client`` is an optional dependency, and
every other command stays free of it.
"""
