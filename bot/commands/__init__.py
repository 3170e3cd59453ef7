"""Subcommands of the `mlresponder` CLI, one module each (see `bot.cli`)."""

from __future__ import annotations

import argparse

from bot.config import Settings


def settings_from(args: argparse.Namespace) -> Settings:
    return Settings.from_env(config_file=getattr(args, "config", None))
