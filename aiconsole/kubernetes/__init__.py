"""Kubernetes: nodes, pods and their GPUs from kubeconfig contexts, and the actions on them.

Only :mod:`api` imports the ``kubernetes`` package, and only when a cluster is configured;
the other modules are pure (names, object conversion, drain rules, settings) so a Slurm-only
or host-only run never pays for it.
"""
