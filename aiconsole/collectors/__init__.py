"""Collectors: one per kind of source, each feeding the :class:`~aiconsole.store.FleetStore`."""
