"""pages/links.py: a view whose link is too long to share says so in words, and still works."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from pages.links import MAX_LINK_CHARS, link_too_long


def _publish(hidden: str):
    """A page that publishes a Live training view with this text in its hidden-layers field."""
    import dataclasses

    import streamlit as st

    from pages.links import publish
    from pg.app.state import TrainState

    url = publish(dataclasses.replace(TrainState(), hidden=hidden))
    st.markdown(f"published {len(url)}")


def _run(hidden: str) -> AppTest:
    return AppTest.from_function(_publish, args=(hidden,), default_timeout=30).run()


def test_a_link_too_long_to_share_is_a_warning_in_words_and_the_page_goes_on():
    at = _run("64," * 2000)
    assert not at.exception
    warnings = [w.value for w in at.sidebar.warning]
    assert len(warnings) == 1 and "too long to share" in warnings[0], warnings
    assert f"{MAX_LINK_CHARS:,}" in warnings[0]
    assert at.query_params["hidden"] == "64," * 2000  # the URL still holds the view
    assert any(m.value.startswith("published ") for m in at.markdown)


def test_an_ordinary_link_has_no_warning():
    at = _run("64,64")
    assert not at.exception
    assert not at.sidebar.warning
    assert at.query_params["hidden"] == "64,64"


def test_the_limit_is_on_the_full_link():
    assert link_too_long("/train?" + "a" * (MAX_LINK_CHARS - 7)) is None
    assert "4,001 characters" in link_too_long("/train?" + "a" * (MAX_LINK_CHARS - 6))
