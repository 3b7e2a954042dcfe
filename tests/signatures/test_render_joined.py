"""A template followed by plain prose renders exactly as the whole text compiled as one template."""

from __future__ import annotations

import pytest
from jinja2.sandbox import SandboxedEnvironment

from app.signatures.render import compile_text

_ENV = SandboxedEnvironment(autoescape=False, keep_trailing_newline=False)


@pytest.mark.parametrize(
    "source",
    [
        'Alarm {{ alarm_id }}{% if node %} on {{ node }}{% endif %}.\n\nThe system is "busy" <x>.',
        "{{ node }}\n",
        "{% if node %}x{% endif %}  \n  tail with spaces  ",
        "{% if node -%}x{%- endif %}\n\n  kept as one template",
        "plain } brace then {{ node }} and more } text",
        "{{ node }}",
        "{{ node }} then\r\nwindows line ends",
    ],
)
def test_joined_rendering_equals_one_template(source: str) -> None:
    for context in ({"node": "expc1", "alarm_id": "20004"}, {"node": None, "alarm_id": "1"}):
        expected = _ENV.from_string(source).render(context)
        assert compile_text(source).render(context) == expected


def test_rows_sharing_the_template_part_share_its_compiled_code() -> None:
    first = compile_text("{{ node }} was raised.\n\nFirst row's own prose.")
    second = compile_text("{{ node }} was raised.\n\nSecond row's own prose.")
    assert first.template is second.template  # type: ignore[attr-defined]
