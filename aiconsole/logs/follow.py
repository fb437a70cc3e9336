"""Following a stream that never ends by itself (``tail -F``) until its writer is gone.

``tail -F`` keeps waiting after a job has finished; ``kubectl logs -f`` ends with its pod.
:func:`until_ended` gives a follow that same end: whenever the stream has been quiet for
``quiet`` seconds it asks ``ended()`` (one ``scontrol show job``), and once the writer is gone
it passes on what still arrives within one more quiet period, then stops the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable


async def until_ended(
    chunks: AsyncIterator[bytes], ended: Callable[[], Awaitable[bool]], quiet: float
) -> AsyncIterator[bytes]:
    waiting: asyncio.Future[bytes] = asyncio.ensure_future(anext(chunks))
    over = False
    try:
        while True:
            done, _ = await asyncio.wait({waiting}, timeout=quiet)
            if done:
                try:
                    chunk = waiting.result()
                except StopAsyncIteration:
                    return
                yield chunk
                waiting = asyncio.ensure_future(anext(chunks))
            elif over:
                return  # the writer is gone and a whole quiet period brought nothing more
            else:
                over = await ended()
    finally:
        # Stop the stream (its own clean-up ends the remote tail) before leaving.
        waiting.cancel()
        with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration, Exception):
            await waiting
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()
