"""The command line: the window's options alone are read without building the commands'
parsers (they cost the window's start about 15 ms); anything else gets the whole parser."""

from __future__ import annotations

import argparse

import pytest

from elite_panel import cli


def test_the_window_options_alone_skip_the_commands_parsers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[argparse.ArgumentParser] = []
    whole = cli.build_parser
    monkeypatch.setattr(cli, "build_parser", lambda: built.append(whole()) or built[-1])

    args = cli.parse_args(["--profile", "stack", "--page", "models", "--hidden"])
    assert (args.command, args.profile, args.page, args.hidden) == (None, "stack", "models", True)
    assert built == []  # ("stack" is the profile's name here, not the command)

    args = cli.parse_args(["--profile", "work", "stack", "status", "--json"])
    assert (args.command, args.action, args.json, args.profile) == ("stack", "status", True, "work")
    assert len(built) == 1


def test_help_and_mistakes_get_the_whole_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.parse_args(["--help"])
    assert "conversations" in capsys.readouterr().out  # the commands are listed
    with pytest.raises(SystemExit):
        cli.parse_args(["stak"])
    assert "invalid choice: 'stak'" in capsys.readouterr().err
