"""The Slack app manifest matches what the code listens to and calls."""

from __future__ import annotations

import ast
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "docs" / "slack-app-manifest.yaml"

# Web API method → the bot scope it needs (Slack's method reference).
METHOD_SCOPES: dict[str, str | None] = {
    "auth.test": None,  # no scope needed: who the bot is (the creator of its own channels)
    "conversations.list": "channels:read",  # find the bot's own channel after a timed-out create
    "conversations.create": "channels:manage",
    "conversations.setTopic": "channels:manage",
    "conversations.invite": "channels:manage",
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.postEphemeral": "chat:write",
    "pins.add": "pins:write",
    "usergroups.users.list": "usergroups:read",
    "conversations.archive": "channels:manage",
    "files.getUploadURLExternal": "files:write",
    "files.completeUploadExternal": "files:write",
}
# Private incidents: creating, inviting to, archiving a private channel need the groups: twin.
PRIVATE_SCOPES = {"groups:write"}


def called_methods() -> set[str]:
    """Every literal method name passed to SlackClient.call in the chat package."""
    found: set[str] = set()
    for path in (ROOT / "bot" / "chat").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "call"
                    and node.args and isinstance(node.args[0], ast.Constant)):
                found.add(str(node.args[0].value))
    return found


def test_manifest_declares_the_command_urls_and_every_needed_scope() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    commands = manifest["features"]["slash_commands"]
    assert [c["command"] for c in commands] == ["/incident"] and commands[0]["should_escape"] is True
    settings = manifest["settings"]
    urls = [commands[0]["url"], settings["event_subscriptions"]["request_url"],
            settings["interactivity"]["request_url"]]
    assert all(u.startswith("https://") and u.endswith("/slack/events") for u in urls)
    assert settings["interactivity"]["is_enabled"] is True
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    methods = called_methods()
    assert methods == set(METHOD_SCOPES), methods  # a new call needs its scope listed here and in the manifest
    assert {METHOD_SCOPES[m] for m in methods if METHOD_SCOPES[m]} | {"commands", "chat:write.public"} \
        | PRIVATE_SCOPES <= scopes
    usage = commands[0]["usage_hint"]
    for sub in ("role", "update", "revert", "reopen", "declare [private]"):
        assert sub in usage, sub
