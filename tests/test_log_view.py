"""The log view on its own: bounded, following only while at its end, errors on one line.

The lines come from a queue the test fills (the view's source is any async line iterator;
the Slurm and Kubernetes sources are tested on the real estate and the test API server).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from textual.app import App
from textual.widgets import RichLog, Static

from aiconsole.logs.lines import DEFAULT_KEEP, LogUnavailable
from aiconsole.screens.logs import LogScreen
from tests.test_screens import wait_for

END = "the end"


def queued() -> tuple[asyncio.Queue[str], Callable[[Callable[[str], None]], AsyncIterator[str]]]:
    lines: asyncio.Queue[str] = asyncio.Queue()

    async def source(say: Callable[[str], None]) -> AsyncIterator[str]:
        say("test log on here")
        while (line := await lines.get()) != END:
            if line == "fail":
                raise LogUnavailable("context test: pod ml/x: log stream broken: reset")
            yield line

    return lines, source


async def test_the_view_keeps_the_last_lines_and_follows_only_at_its_end() -> None:
    lines, source = queued()
    screen = LogScreen("test log", source)
    app: App[None] = App()
    async with app.run_test(size=(80, 24)) as pilot:
        await app.push_screen(screen)
        view = screen.query_one(RichLog)
        for n in range(DEFAULT_KEEP + 500):
            lines.put_nowait(f"line {n}")
        await wait_for(pilot, lambda: screen.received == DEFAULT_KEEP + 500)
        await pilot.pause()
        assert len(view.lines) == DEFAULT_KEEP  # older lines scrolled away
        assert view.lines[-1].text == f"line {DEFAULT_KEEP + 499}"
        assert "test log on here: following" in str(screen.query_one(Static).render())
        assert view.is_vertical_scroll_end

        view.scroll_home(animate=False)
        await pilot.pause()
        lines.put_nowait("while reading")
        await wait_for(pilot, lambda: view.lines[-1].text == "while reading")
        await pilot.pause()
        assert view.scroll_y == 0  # the operator's place is kept

        await pilot.press("end")
        await pilot.pause()
        lines.put_nowait("following again")
        await wait_for(pilot, lambda: view.lines[-1].text == "following again")
        await pilot.pause()
        assert view.is_vertical_scroll_end


async def test_a_broken_stream_ends_in_one_line_and_keeps_what_was_shown() -> None:
    lines, source = queued()
    screen = LogScreen("test log", source)
    app: App[None] = App()
    async with app.run_test(size=(80, 24)) as pilot:
        await app.push_screen(screen)
        lines.put_nowait("[red]kept[/red]")
        lines.put_nowait("fail")
        await wait_for(pilot, lambda: screen.ended is not None)
        status = str(screen.query_one(Static).render())
        assert status == "context test: pod ml/x: log stream broken: reset"
        assert [strip.text for strip in screen.query_one(RichLog).lines] == ["[red]kept[/red]"]
