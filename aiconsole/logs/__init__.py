"""Following a job's or a pod's own output: the last lines at once, then new ones as they come.

Headless: the CLI (``aiconsole logs``) and the TUI's log view read the same line streams.
"""
