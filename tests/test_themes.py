"""Themes: Textual's built-in themes by --theme, the config's [ui] table or the command
palette, and the palette's choice kept for the next start."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from textual.theme import BUILTIN_THEMES

from aiconsole.config import ConfigError, load
from aiconsole.themes import THEMES, ThemeKeeper, start_theme
from tests.conftest import run_aiconsole
from tests.test_screens import SIZE, static_app, wait_for


def test_the_theme_list_is_textuals() -> None:
    assert tuple(BUILTIN_THEMES) == THEMES


def test_the_config_names_a_theme_in_its_ui_table(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('hosts = "a"\n\n[ui]\ntheme = "gruvbox"\n')
    assert load(path).theme == "gruvbox"


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ('theme = "neon"', "ui.theme: unknown theme 'neon' (themes: textual-dark, "),
        ("theme = 3", 'ui.theme: must be a theme name, e.g. "nord"'),
        ('colour = "nord"', "ui.colour: unknown key (expected theme)"),
    ],
)
def test_a_bad_ui_table_is_one_line_naming_the_file_line_and_the_themes(
    tmp_path: Path, table: str, problem: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f'hosts = "a"\n[ui]\n{table}\n')
    with pytest.raises(ConfigError) as caught:
        load(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:3: {problem}")
    assert "\n" not in message
    if "unknown theme" in problem:
        assert all(name in message for name in THEMES)


def test_an_unknown_theme_on_the_command_line_is_a_usage_error(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path), "AICONSOLE_CONFIG": ""}
    for args in (["--theme", "neon"], ["--theme", "neon", "--hosts", "local"]):
        code, out, err = run_aiconsole(*args, env=env)
        assert code == 64, err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "--theme: unknown theme 'neon' (themes: " in lines[0]
        assert "nord" in lines[0] and not out


def test_command_line_then_kept_choice_then_config_then_default(tmp_path: Path) -> None:
    keeper = ThemeKeeper(tmp_path / "ui.json", configured="nord")
    assert start_theme(None, ThemeKeeper(tmp_path / "none.json", None)) == "textual-dark"
    assert start_theme(None, keeper) == "nord"
    assert keeper.keep("dracula") is None
    assert start_theme(None, keeper) == "dracula"
    assert start_theme("monokai", keeper) == "monokai"
    # The config's theme changed since the choice: the edited config is what is wanted now.
    assert start_theme(None, ThemeKeeper(keeper.path, configured="gruvbox")) == "gruvbox"
    keeper.path.write_text("{not json")
    assert start_theme(None, keeper) == "nord"  # a damaged file keeps nothing


async def test_a_theme_chosen_in_the_palette_is_kept_for_the_next_start(tmp_path: Path) -> None:
    keeper = ThemeKeeper(tmp_path / "state" / "ui.json", configured=None)
    app = static_app()
    app.use_theme(start_theme("nord", keeper), keeper)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.theme == "nord"
        assert not keeper.path.exists()  # starting with a theme is no choice to keep
        await pilot.press("ctrl+p", *"theme")
        await pilot.pause(0.5)
        await pilot.press("enter")  # the palette's "Theme" command lists the themes
        await pilot.pause(0.5)
        await pilot.press(*"gruvbox")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.theme == "gruvbox")
    assert json.loads(keeper.path.read_text())["theme"] == "gruvbox"
    again = static_app()
    again.use_theme(start_theme(None, keeper), keeper)
    async with again.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert again.theme == "gruvbox"
