"""The packages depend on each other in one direction only, checked on every module's imports.

    core (paths, errors, atomic, text)   imports only itself
    core.gpt      the book's GPT   + core
    core.journal  the journal      + core              (independent of the GPT)
    core.widgets  what widgets compute: + core, core.gpt
    core.app      services:        + core, core.gpt, core.journal
    ui            Streamlit:       anything in core; a widget module (`ui/<name>.py` for each name in
                                   `WIDGET_PAGES`) never imports another one, and shared ui modules
                                   never import widget modules (the registry loads them by name)
    pages, streamlit_app.py        only ui and core, never another page

Nothing in core imports Streamlit, ui or pages.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

from core.paths import PROJECT_ROOT
from ui.widget_registry import WIDGET_PAGES

CORE_ROOT = {"core.paths", "core.errors", "core.atomic", "core.text", "core"}
ALLOWED_CORE = {
    "core.gpt": ("core.gpt",),
    "core.journal": ("core.journal",),
    "core.widgets": ("core.gpt", "core.widgets"),
    "core.app": ("core.gpt", "core.journal", "core.app"),
}
FIRST_PARTY = ("core", "ui", "pages", "streamlit_app")


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """Each import statement in `path`, anywhere in the file, as (what it names, the modules it may load).

    `from a import b` may load `a` or `a.b`, so both are checked.
    """
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.extend((alias.name, [alias.name]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]))
    return found


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def python_files(root: Path) -> Iterable[Path]:
    for folder in ("core", "ui", "pages"):
        yield from sorted((root / folder).rglob("*.py"))
    if (root / "streamlit_app.py").is_file():
        yield root / "streamlit_app.py"


def violations(root: Path, widget_names: Iterable[str]) -> list[str]:
    """One line per import that goes against the direction in this module's docstring."""
    widgets = {f"ui.{name}" for name in widget_names}
    found = []
    for path in python_files(root):
        module = module_name(root, path)
        for shown, names in imports(path):
            problems = [p for name in names if (p := _problem(module, name, widgets)) is not None]
            if problems:
                found.append(f"{path.relative_to(root)}: imports {shown} ({problems[0]})")
    return found


def _problem(module: str, name: str, widgets: set[str]) -> str | None:
    if within(module, "core"):
        if within(name, "streamlit") or within(name, "ui") or within(name, "pages"):
            return "core never imports Streamlit, ui or pages"
        if not within(name, "core") or any(within(name, root) for root in CORE_ROOT - {"core"}):
            return None
        layer = next((p for p in ALLOWED_CORE if within(module, p)), None)
        allowed = ALLOWED_CORE.get(layer, ()) if layer else ()
        if name != "core" and not any(within(name, p) for p in allowed):
            root_only = "core.paths, errors, atomic, text"
            return f"{layer or 'the core root'} may import only {', '.join(allowed) or root_only}"
        return None
    if within(module, "ui"):
        target = next((w for w in widgets if within(name, w)), None)
        if target is None or target == module:
            return None
        if module in widgets:
            return "widget modules do not import each other; shared code goes in a shared ui module"
        return "shared ui modules do not import widget modules"
    if within(module, "pages") or module == "streamlit_app":
        first_party = next((p for p in FIRST_PARTY if within(name, p)), None)
        if first_party in ("pages", "streamlit_app"):
            return "pages import only ui and core"
    return None


def test_the_project_follows_the_layers():
    assert violations(PROJECT_ROOT, WIDGET_PAGES) == []


def test_the_check_sees_every_module():
    names = {module_name(PROJECT_ROOT, p) for p in python_files(PROJECT_ROOT)}
    assert {"core.gpt.model", "core.app.corpora", "ui.tokenizer", "pages.tokenizer", "streamlit_app"} <= names


def _tree(root: Path, files: dict[str, str]) -> Path:
    for relative, source in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(source, encoding="utf-8")
    return root


CLEAN = {
    "core/__init__.py": "",
    "core/paths.py": "import os\n",
    "core/gpt/model.py": "import torch\nfrom core.paths import data_dir\nfrom core.gpt import config\n",
    "core/journal/store.py": "from core.journal.entries import Entry\nfrom core.atomic import write_text\n",
    "core/widgets/token_view.py": "from core.gpt.tokenizers import encode\n",
    "core/app/corpora.py": "from core.journal.store import load_journal\nfrom core.gpt import tokenizers\n",
    "ui/charts.py": "import altair as alt\n",
    "ui/tokenizer.py": "import streamlit as st\nfrom ui.charts import loss_chart\nfrom core.app import corpora\n",
    "ui/spam.py": "from ui import charts\n",
    "pages/tokenizer.py": "import streamlit as st\nfrom ui import tokenizer\nfrom core.journal import store\n",
    "streamlit_app.py": "from ui.widget_registry import WIDGET_PAGES\n",
}


def test_a_clean_tree_passes(tmp_path):
    assert violations(_tree(tmp_path, CLEAN), ["tokenizer", "spam"]) == []


@pytest.mark.parametrize(
    ("relative", "source", "reason"),
    [
        ("core/gpt/train.py", "from core.app.corpora import CorpusError\n", "core.gpt may import only"),
        ("core/gpt/train.py", "def f():\n    from core.widgets import token_view\n", "core.gpt may import only"),
        ("core/gpt/train.py", "import core.journal.store\n", "core.gpt may import only"),
        ("core/widgets/token_view.py", "from core.journal.store import load_journal\n", "core.widgets may import"),
        ("core/widgets/token_view.py", "from core.app import corpora\n", "core.widgets may import"),
        ("core/app/corpora.py", "from core.widgets.token_view import corpus_text\n", "core.app may import"),
        ("core/journal/store.py", "from core.gpt import tokenizers\n", "core.journal may import"),
        ("core/paths.py", "from core.gpt import config\n", "the core root may import"),
        ("core/app/jobs.py", "import streamlit as st\n", "never imports Streamlit"),
        ("core/widgets/run_view.py", "from ui.charts import DASHES\n", "never imports Streamlit, ui"),
        ("ui/spam.py", "from ui.tokenizer import settings\n", "widget modules do not import each other"),
        ("ui/spam.py", "from ui import tokenizer\n", "widget modules do not import each other"),
        ("ui/charts.py", "import ui.spam\n", "shared ui modules do not import widget modules"),
        ("pages/tokenizer.py", "from pages import spam\n", "pages import only ui and core"),
        ("streamlit_app.py", "import pages.tokenizer\n", "pages import only ui and core"),
    ],
)
def test_a_planted_violation_is_reported(tmp_path, relative, source, reason):
    tree = _tree(tmp_path, CLEAN | {relative: CLEAN.get(relative, "") + source})
    found = violations(tree, ["tokenizer", "spam"])
    assert len(found) == 1 and found[0].startswith(relative) and reason in found[0]
