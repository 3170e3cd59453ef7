"""Every Jinja2 environment is sandboxed with output-size and render-time limits (postmortem
team templates too), and every YAML configuration goes through one bounded loader."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest
from rb_support import open_incident

from bot.config import Settings
from bot.monitors.loader import MonitorConfigError, parse_text
from bot.safeyaml import YamlLimitExceeded, safe_load
from bot.sandbox import TemplateRefused
from bot.wiring import create_runtime
from postmortems.service import draft_postmortem_full
from runbooks.loader import RunbookError, load_runbooks
from runbooks.templating import TemplateFailed, render
from runbooks.templating import TemplateRefused as RunbookTemplateRefused

# 536 bytes in the finding: nine levels of nine aliases each, 9**9 nodes once expanded.
ALIAS_BOMB = "\n".join(
    ["a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]"]
    + [f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]" for i in range(8)]
) + "\n"


def _team_dir(tmp_path: Path, body: str) -> Path:
    team = tmp_path / "team"
    team.mkdir(exist_ok=True)
    (team / "postmortem.md.j2").write_text(body)
    return team


@pytest.mark.parametrize("body, words", [
    ("{{ cycler.__init__.__globals__.os.popen('id').read() }}", "postmortem template refused"),
    ("{{ ('a' * 10**8) }}", "output over its limit"),
    ("{% for i in range(10**7) %}x{% endfor %}", "range loops over more than"),
])
def test_a_team_postmortem_template_is_sandboxed_and_limited(tmp_path: Path, body: str, words: str) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'pm.db'}", scheduler_enabled=False,
                        postmortem_dir=str(tmp_path / "out"), postmortem_templates=str(_team_dir(tmp_path, body)))
    runtime = create_runtime(settings, install_parts=False)
    try:
        iid = open_incident(runtime, "AccuracyDrop", model="fraud")
        with pytest.raises(TemplateRefused) as refused:
            draft_postmortem_full(runtime, iid, "cli", tmp_path / "out")
        assert words in str(refused.value)
        assert "uid=" not in str(refused.value)
        assert not list((tmp_path / "out").glob("*.md"))
    finally:
        runtime.close()


@pytest.mark.parametrize("source", ["{{ 'a' * 10**8 }}", "{{ 'x'|center(10**9) }}", "{{ '%999999999s' % 'x' }}",
                                    "{{ 'x'.ljust(10**9) }}", "{{ ['a'] * 10**8 }}",
                                    "{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}"])
def test_runbook_templates_have_size_and_loop_limits(source: str) -> None:
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises((RunbookTemplateRefused, TemplateFailed)):
        render(source, {})
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 50_000_000, peak  # refused before the huge value exists
    assert time.perf_counter() - started < 30  # generous: a shared machine; unbounded took minutes


def test_ordinary_templates_still_render() -> None:
    from jinja2 import Environment

    source = ("{{ x|join(',') }} {{ 'hello wide world'|truncate(9) }} {{ 'x'|center(5) }} {{ 3 * 'ab' }} "
              "{{ 'a b c'|wordwrap(3) }} {{ 'a'|replace('a', 'b') }} {{ '%5s' % 'x' }} {{ 2 ** 8 }}")
    assert render(source, {"x": [1, 2]}) == Environment().from_string(source).render(x=[1, 2])


def test_an_alias_bomb_is_refused_quickly_in_every_loader(tmp_path: Path) -> None:
    assert len(ALIAS_BOMB) < 700
    started = time.perf_counter()
    with pytest.raises(YamlLimitExceeded):
        safe_load(ALIAS_BOMB)
    (tmp_path / "bomb.yaml").write_text("name: bomb\nmatch: {alertname: X}\n" + ALIAS_BOMB)
    with pytest.raises(RunbookError) as rb:
        load_runbooks([tmp_path / "bomb.yaml"])
    assert "aliases expand to more than" in str(rb.value)
    with pytest.raises(MonitorConfigError) as mon:
        parse_text("monitors: []\n" + ALIAS_BOMB, "monitors.yaml")
    assert "aliases expand to more than" in str(mon.value)
    config = tmp_path / "config.yaml"
    config.write_text(ALIAS_BOMB)
    with pytest.raises(YamlLimitExceeded):
        Settings.from_env({}, config_file=str(config))
    assert time.perf_counter() - started < 20  # the unbounded loader took 83 s for the runbook alone


def test_a_few_aliases_and_a_size_cap(tmp_path: Path) -> None:
    assert safe_load("base: &b {x: 1}\nother: *b\n") == {"base": {"x": 1}, "other": {"x": 1}}
    with pytest.raises(YamlLimitExceeded, match="larger than"):
        safe_load("a: " + "x" * (1024 * 1024 + 1))
    with pytest.raises(YamlLimitExceeded, match="nested too deeply"):
        safe_load("[" * 50_000 + "]" * 50_000)
