"""The Markdown twin of the report (figures linked as files beside it)."""

from __future__ import annotations

from pathlib import Path

from analysis.paper_table import to_markdown
from analysis.report_content import Section


def render_markdown(sections: list[Section], title: str, base: Path) -> str:
    """Render sections to Markdown; figure paths are made relative to ``base``."""
    lines = [f"# {title}", ""]
    for sec in sections:
        lines += [f"## {sec.title}", ""]
        for p in sec.paragraphs:
            lines += [p, ""]
        for b in sec.bullets:
            lines.append(f"- {b}")
        if sec.bullets:
            lines.append("")
        for caption, path in sec.figures:
            rel = Path(path).relative_to(base) if Path(path).is_relative_to(base) else path
            lines += [f"![{caption}]({rel.as_posix() if isinstance(rel, Path) else rel})",
                      f"*{caption}*", ""]
        for caption, table in sec.tables:
            lines += [f"**{caption}**", "", to_markdown(table.astype(str)), ""]
    return "\n".join(lines)
