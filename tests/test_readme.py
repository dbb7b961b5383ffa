"""The README stays true to the code: its module map names every module, and its settings tables
list every setting with its default."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

from spark_lsp.actions.settings import ActionSettings
from spark_lsp.completion.settings import CompletionSettings
from spark_lsp.context.settings import ContextSettings
from spark_lsp.engine.settings import EngineSettings
from spark_lsp.settings import camel

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def module_map() -> str:
    start = README.index("```\nspark_lsp/\n")
    return README[start : README.index("```", start + 3)]


def listed_modules() -> set[str]:
    """The module map's modules as paths: a line belongs to the latest folder indented less."""
    folders: list[tuple[int, str]] = [(-1, "")]
    listed = set()
    for line in module_map().splitlines()[2:]:
        indent = len(line) - len(line.lstrip())
        while folders[-1][0] >= indent:
            folders.pop()
        folder = folders[-1][1]
        first = line.split()[0] if line.strip() else ""
        if first.endswith("/"):
            folder += first
            folders.append((indent, folder))
        listed |= {folder + name for name in re.findall(r"\w+\.py", line)}
    return listed


def test_the_module_map_names_every_module_in_its_folder() -> None:
    package = ROOT / "spark_lsp"
    modules = {
        path.relative_to(package).as_posix()
        for path in package.rglob("*.py")
        if path.name not in ("__init__.py", "__main__.py") and "demo" not in path.parts
    }
    listed = listed_modules()
    assert modules - listed == set()
    assert listed - modules == set()


def table_row(first_cell: str) -> str:
    pattern = rf"^\|[^|]*`[^`|]*{re.escape(first_cell)}\b[^|]*\|([^|]*)\|"
    match = re.search(pattern, README.replace("\\|", "/"), re.MULTILINE)
    assert match is not None, f"README has no table row for {first_cell}"
    return match.group(1).strip()


def test_every_engine_flag_is_in_the_table_with_its_default() -> None:
    for item in fields(EngineSettings):
        default = table_row("--" + item.name.replace("_", "-"))
        if isinstance(item.default, bool) or item.default is None:
            continue  # "--x / --no-x", or a default that is named in words ("embedded")
        assert default.split(" ")[0] == str(item.default), (item.name, default)


def test_every_editor_option_is_in_the_table_with_its_default() -> None:
    groups = (
        ("actions", ActionSettings),
        ("completion", CompletionSettings),
        ("context", ContextSettings),
    )
    for group, settings in groups:
        for item in fields(settings):
            name = camel(item.name)
            match = re.search(
                rf"^\| `{group}\.[^|]*\b{name}\b[^|]*\|([^|]*)\|", README, re.MULTILINE
            )
            assert match is not None, f"README's option table lacks {group}.{name}"
            cell = match.group(1).lower()
            values = item.default if isinstance(item.default, tuple) else (item.default,)
            assert all(str(value).lower() in cell for value in values), (name, cell)
