"""Renderers of run results: the terminal table and the files ``--out DIR`` writes."""

from slokit.report._files import junit_xml, results_json, summary_markdown, write_reports
from slokit.report._terminal import render_terminal

__all__ = ["junit_xml", "render_terminal", "results_json", "summary_markdown", "write_reports"]
