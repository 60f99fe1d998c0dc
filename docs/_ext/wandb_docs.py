"""Sphinx directives that generate pages from the provider's own declarations, so the docs cannot drift:

``.. wandb-connection-extras::``
    The table of the ``wandb`` connection's extras, from ``wandb_provider.hooks._extras.EXTRAS`` (the
    declaration the hook parses with, the connection form shows and the README's table comes from).

``.. wandb-compatibility::``
    The compatibility table (Airflow releases x Python versions x features, and what CI runs where),
    from ``wandb_provider/compatibility.json`` (which the README's table and the CI legs also come from).

``.. wandb-cli-help:: package.module:parser_factory``
    The ``--help`` of a command line built with ``argparse``, and of each of its sub-commands, from
    the function that builds its parser (called with no argument).
"""

from __future__ import annotations

import argparse
import importlib
import os
from typing import Any

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

HELP_COLUMNS = "100"


def _cell(*children: nodes.Node) -> nodes.entry:
    entry = nodes.entry()
    entry += nodes.paragraph("", "", *children)
    return entry


def _table(headers: list[str], rows: list[list[nodes.entry]], widths: list[int]) -> nodes.table:
    table = nodes.table()
    group = nodes.tgroup(cols=len(headers))
    table += group
    for width in widths:
        group += nodes.colspec(colwidth=width)
    head = nodes.thead()
    group += head
    head_row = nodes.row()
    head += head_row
    for header in headers:
        head_row += _cell(nodes.Text(header))
    body = nodes.tbody()
    group += body
    for cells in rows:
        row = nodes.row()
        for cell in cells:
            row += cell
        body += row
    return table


def _default(value: Any) -> nodes.Node:
    if value in (None, ()):
        return nodes.Text("—")
    if isinstance(value, bool):
        return nodes.literal(text=str(value).lower())
    return nodes.literal(text=str(value))


class ConnectionExtras(SphinxDirective):
    """The connection extras table (name, type, default, what), generated from ``EXTRAS``."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        from wandb_provider.hooks import _extras

        self.env.note_dependency(_extras.__file__)
        rows = []
        for extra in _extras.EXTRAS:
            kind = " or ".join("list" if t == "array" else t for t in extra.schema_type)
            rows.append([_cell(nodes.literal(text=extra.name)), _cell(nodes.Text(kind)),
                         _cell(_default(extra.default)), _cell(nodes.Text(extra.help))])
        return [_table(["extra", "type", "default", "what"], rows, [22, 14, 10, 54])]


class Compatibility(SphinxDirective):
    """The compatibility table, generated from ``compatibility.json`` as the README's."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        from wandb_provider import _compat_data

        self.env.note_dependency(os.path.join(os.path.dirname(_compat_data.__file__), "compatibility.json"))
        header, rows = _compat_data.table_rows()
        cells = [[_cell(nodes.Text(text.replace("`", ""))) for text in row] for row in rows]
        return [_table(header, cells, [16, 10] + [12] * (len(header) - 3) + [30])]


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.ArgumentParser]]:
    found = []
    for action in parser._actions:  # argparse has no public way to list sub-parsers
        if isinstance(action, argparse._SubParsersAction):
            seen: set[int] = set()
            for name, sub in action.choices.items():
                if id(sub) not in seen:  # aliases share one parser
                    seen.add(id(sub))
                    found.append((name, sub))
    return found


class CliHelp(SphinxDirective):
    """``--help`` of a parser and of its sub-commands (one level; ``:depth: 2`` for two), as literal blocks."""

    required_arguments = 1
    option_spec = {"depth": directives.positive_int}

    def run(self) -> list[nodes.Node]:
        target = self.arguments[0]
        module_name, _, function = target.partition(":")
        module = importlib.import_module(module_name)
        if module.__file__:
            self.env.note_dependency(module.__file__)
        parser = getattr(module, function)()
        if not isinstance(parser, argparse.ArgumentParser):
            raise self.error(f"{target} did not return an argparse.ArgumentParser")
        previous = os.environ.get("COLUMNS")
        os.environ["COLUMNS"] = HELP_COLUMNS  # argparse wraps at the terminal's width: make it fixed
        try:
            return self._help(parser, self.options.get("depth", 1))
        finally:
            if previous is None:
                os.environ.pop("COLUMNS", None)
            else:
                os.environ["COLUMNS"] = previous

    def _help(self, parser: argparse.ArgumentParser, depth: int) -> list[nodes.Node]:
        text = parser.format_help().rstrip()
        result: list[nodes.Node] = [nodes.literal_block(text, text, language="text")]
        if depth > 0:
            for _name, sub in _subcommands(parser):
                result.append(nodes.rubric(text=sub.prog))
                result.extend(self._help(sub, depth - 1))
        return result


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("wandb-connection-extras", ConnectionExtras)
    app.add_directive("wandb-cli-help", CliHelp)
    app.add_directive("wandb-compatibility", Compatibility)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
