"""Operator actions: plan -> confirm -> execute -> verify -> audit, the same from TUI and CLI.

* :mod:`plan`: what an action will hit, shown before anything runs; the types every
  scheduler's actions (Slurm now; Kubernetes and rebalancing later) produce.
* :mod:`policy`: who may act (roles, read-only) and how much one action may take out.
* :mod:`audit`: the append-only, fsynced JSON-lines record of intent and outcome.
* :mod:`execute`: runs a confirmed plan and polls until the new state is seen or time is up.
* :mod:`slurm`: drain, resume, requeue, requeue-hold, release.
"""
