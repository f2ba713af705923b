"""The app's Streamlit configuration: what a learner's browser shows around the pages."""

from __future__ import annotations

import tomllib

from core.paths import PROJECT_ROOT


def app_config() -> dict:
    return tomllib.loads((PROJECT_ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))


def test_the_toolbar_has_no_developer_options():
    # "auto" shows Deploy, Rerun and Clear cache on localhost, where learners run the app.
    assert app_config()["client"]["toolbarMode"] in ("viewer", "minimal")


def test_no_full_garbage_collection_after_every_script_run():
    # Streamlit's default collects after each run, live fragments included: that held Python's lock
    # for 44 % of the server's CPU time while a watched run trained (README, "Watching a run").
    from streamlit import config

    assert app_config()["runner"]["postScriptGC"] is False
    assert config.get_option("runner.postScriptGC") in (True, False)  # Streamlit still knows the option
