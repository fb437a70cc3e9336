"""Reusable widgets and rendering helpers for the screens."""
