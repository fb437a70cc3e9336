"""Slurm: reading nodes and jobs from its text formats, and building its commands safely."""
