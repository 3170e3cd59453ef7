"""The sandbox refuses templates that reach for internals; ordinary templates render."""

from __future__ import annotations

import pytest

from runbooks.templating import TemplateFailed, TemplateRefused, evaluate, render, render_tree

CONTEXT = {"labels": {"model": "fraud", "team": "ml"}, "diagnosis": {"cause": "model", "confidence": 0.873},
           "changes": [{"kind": "model_deploy", "to_version": "2"}, {"kind": "config_change"}]}

ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__ }}",
    "{{ ''|attr('__class__') }}",
    "{{ (''|attr('__class__')).mro() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ labels['__class__'] }}",
    "{{ labels.__class__.__base__.__subclasses__() }}",
    "{{ ''.format.__self__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ labels | map(attribute='__class__') | list }}",
    "{{ changes | sort(attribute='kind.__class__') }}",
    "{{ labels.mro }}",
    "{% set x = [] %}{{ x.append(1) }}",
    "{{ labels.update({'model': 'other'}) }}",
]


@pytest.mark.parametrize("source", ESCAPES)
def test_escapes_are_refused_not_rendered(source: str) -> None:
    with pytest.raises(TemplateRefused, match="template refused"):
        render(source, CONTEXT)
    assert CONTEXT["labels"] == {"model": "fraud", "team": "ml"}


def test_escapes_in_conditions_are_refused() -> None:
    with pytest.raises(TemplateRefused):
        evaluate("diagnosis.__class__", CONTEXT)
    with pytest.raises(TemplateRefused):
        evaluate("labels|attr('__dict__')", CONTEXT)


def test_ordinary_templates_render() -> None:
    assert render("{{ labels.model }} {{ diagnosis.confidence | round(2) }}", CONTEXT) == "fraud 0.87"
    assert evaluate("changes | selectattr('kind', 'equalto', 'model_deploy') | list", CONTEXT) == [
        {"kind": "model_deploy", "to_version": "2"}]
    assert evaluate("diagnosis.cause == 'model'", CONTEXT) is True
    assert render_tree({"url": "http://x/{{ labels.model }}", "n": 3, "h": ["{{ labels.team }}"]}, CONTEXT) == {
        "url": "http://x/fraud", "n": 3, "h": ["ml"]}


def test_a_misspelt_variable_is_an_error_not_a_blank() -> None:
    with pytest.raises(TemplateFailed, match="'dict object' has no attribute 'modle'"):
        render("serving {{ labels.modle }}", CONTEXT)
    with pytest.raises(TemplateFailed, match="'config' is undefined"):
        render("{{ config }}", CONTEXT)


def test_alert_data_is_data_not_a_template() -> None:
    hostile = {"labels": {"model": "{{ ''.__class__.__mro__ }}"}}
    assert render("model: {{ labels.model }}", hostile) == "model: {{ ''.__class__.__mro__ }}"
