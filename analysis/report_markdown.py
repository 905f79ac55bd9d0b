"""The Markdown twin of the report (jinja2 template ``templates/report.md.j2``; figures
linked as files beside it, paths relative to the report folder)."""

from __future__ import annotations

from pathlib import Path

import jinja2

from analysis.paper_table import to_markdown
from analysis.report_content import Section


def _environment():
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
        autoescape=False, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)


def _relative(path: Path, base: Path) -> str:
    path, base = Path(path), Path(base)
    return (path.relative_to(base) if path.is_relative_to(base) else Path(path.name)).as_posix()


def render_markdown(sections: list[Section], title: str, base: Path) -> str:
    """Render sections to Markdown; figure paths are made relative to ``base``.

    Examples
    --------
    >>> import pandas as pd
    >>> s = Section("Results", paragraphs=["All fine."],
    ...             tables=[("A table.", pd.DataFrame({"a": [1]}))])
    >>> print(render_markdown([s], "Report", Path(".")).splitlines()[0])
    # Report
    """
    view = [{"title": s.title, "paragraphs": s.paragraphs, "bullets": s.bullets,
             "figures": [{"caption": c, "path": _relative(p, base)} for c, p in s.figures],
             "tables": [{"caption": c, "markdown": to_markdown(t.astype(str)).rstrip()}
                        for c, t in s.tables]} for s in sections]
    return _environment().get_template("report.md.j2").render(title=title, sections=view)
