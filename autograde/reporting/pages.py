"""The HTML pages of :mod:`autograde.reporting`, rendered from ``autograde/reporting/templates/``."""

from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).resolve().parent / "templates"


def render(template: str, **context: Any) -> str:
    """Renders one of ``autograde/reporting/templates/`` with autoescaping on: no student text becomes markup."""
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
    )
    return environment.get_template(template).render(**context)
