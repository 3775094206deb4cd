"""Where the benchmark scripts put their tables: one markdown file each under ``docs/tables/``.

The documentation pages include these files (``--8<-- "docs/tables/NAME.md"``, pymdownx.snippets), so a
script rerun with ``--table`` updates the docs without touching any page by hand.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from h2ot.fileio import write_text_atomic

ROOT = Path(__file__).resolve().parents[1]
TABLES = ROOT / "docs" / "tables"


def add_table_argument(parser: argparse.ArgumentParser, name: str) -> None:
    """``--table [PATH]``: also write the table to PATH; with no PATH to ``docs/tables/NAME.md``."""
    parser.add_argument("--table", type=Path, nargs="?", const=TABLES / f"{name}.md", default=None,
                        help=f"write the table to this file (no value: docs/tables/{name}.md, which the docs "
                             "include)")


def publish(table: str, path: Path | None) -> None:
    """Print ``table`` and, with ``path``, write it there whole (atomically), ending in one newline."""
    print(table)
    if path is not None:
        write_text_atomic(path, table.rstrip("\n") + "\n")
