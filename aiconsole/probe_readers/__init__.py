"""Readers for the probe beyond NVIDIA and /proc basics: AMD Instinct (amdgpu sysfs and DRM
fdinfo), Intel Gaudi (hl-smi), NVMe health, and shared-filesystem statistics.

Same rules as the probe itself: standard library only, Python 3.8, never raise for a missing
or odd file (a value that cannot be read is None with the reason beside it), and every reader
takes a ``host`` with ``read(relative)`` and ``listdir(relative)`` so tests point it at a
recorded tree.
"""
