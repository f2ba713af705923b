"""The app's Streamlit configuration: what a learner's browser shows around the pages."""

from __future__ import annotations

import tomllib

from core.paths import PROJECT_ROOT


def test_the_toolbar_has_no_developer_options():
    # "auto" shows Deploy, Rerun and Clear cache on localhost, where learners run the app.
    config = tomllib.loads((PROJECT_ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["client"]["toolbarMode"] in ("viewer", "minimal")
