"""Pause Python's cyclic garbage collector while a fleet-sized tree of objects is built."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """No cyclic collection inside the block; reference counting frees as usual.

    Building 10,000 hosts' figures, samples and states makes tens of thousands of container
    objects, none of which can form a cycle. Each 700 of them set off a young-generation
    pass, a hundred passes per refresh that find nothing. The block must not await: the
    collector is paused for the whole process. Nested blocks leave it as the outer one
    found it.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
