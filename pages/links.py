"""Every view is a link: a page's state (pg.app.state) synced with the URL and the widgets.

A page calls two functions:

    restore(TheoremState, "theorem_")   before its widgets: on the first run of a visit, the
                                        URL's values go into the widgets' keys (<prefix><field>),
                                        and an st.warning names each bad parameter (one line each)
    publish(TheoremState(...))          after its widgets: the state goes back into the URL
                                        (only what differs from the defaults, plus ?present=1),
                                        and "Link to this view" in the sidebar offers it to copy
    publish(HeatmapState(...), run=run) the same for a page that shows a run: a training run's
                                        recipe goes into the link too (pg.app.run_link)

A link that carries a training run (Policy heatmap, Replay) is opened by
pages/linked_run.py's ``open_linked_run`` (called by pages/shared.py's current_run): the run is trained again, with a progress bar, up to
the update the link names, and becomes the session's run, so the page shows what the link's
author saw, bit for bit. A run loaded from a file has no link: the sidebar says so.

"First run of a visit" is noted by streamlit_app.py (pages/visit.py's ``note_page``) before the page runs:
st.navigation clears the query string on every page switch, so each visit starts from the
URL it was opened with, and later reruns (a widget moved) never read a stale URL back.
"""

from __future__ import annotations

from dataclasses import asdict
from urllib.parse import urlencode

import streamlit as st

from pages.linked_run import refused, run_params
from pages.visit import PAGE, entered, query
from pg.app.run_link import is_run_key
from pg.app.state import APP_KEYS, from_query, specs, to_query, with_defaults

MAX_LINK_CHARS = 4000
"""The longest link offered without a warning. A link of about 6 KB is dropped without a word
(measured in a browser, issue 12); Streamlit's server is not what drops it (it reads query
strings up to 512 Ki characters, and its HTTP server answered a 30,000-character URL), so the
limit is on the browser's side and not known exactly: 4,000 leaves room for a long host name
and stays clear of it. Ordinary links are a few hundred characters; only the free-text fields
of Live training can make one this long."""

def restore(kind, prefix: str, allowed: dict | None = None) -> None:
    """Put the URL's values into the page's widget keys on the first run of a visit.

    ``allowed`` maps a field to the values it may take on this run (a heatmap checkpoint must
    be one the run saved); any other value warns and falls back to the default.
    """
    ss = st.session_state
    if not entered():
        return
    params = {key: values for key, values in query().items() if not is_run_key(key)}  # (open_linked_run's)
    state, warnings = from_query(kind, params)
    for name, values in (allowed or {}).items():
        value = getattr(state, name)
        if value is not None and value not in values and refused():  # already said: not the link's run
            state = with_defaults(state, [name])
        elif value is not None and value not in values:
            spec = specs(kind)[name]
            warnings.append(
                f"Ignored `?{name}={spec.write(value)}`: this run has no {name} {value} "
                f"(it has {_summary(values)}); using {spec.none_means if spec.optional else 'the default'}."
            )
            state = with_defaults(state, [name])
    show_warnings(warnings)
    if set(params) & set(specs(kind)):  # the link sets this page: every widget takes its value
        for name, value in asdict(state).items():
            if value is None:
                ss.pop(prefix + name, None)
            else:  # (a multiselect's key holds a list)
                ss[prefix + name] = list(value) if isinstance(value, tuple) else value


def publish(state, run=None) -> str:
    """Write ``state`` (and presenter mode) into the URL and show the link; returns the link.
    ``run``: the run the page shows; a training run's recipe goes into the link too."""
    carried = run_params(run) if run is not None else {}
    params = to_query(state) | (carried if isinstance(carried, dict) else {})
    if st.session_state.get("present"):
        params["present"] = "1"
    if query() != {key: [value] for key, value in params.items()}:
        st.query_params.from_dict(params)
    url = link(params)
    too_long = link_too_long(url)
    if too_long:
        st.sidebar.warning(too_long, icon=":material/link_off:")
    with st.sidebar.expander("Link to this view", icon=":material/link:"):
        if isinstance(carried, str):  # a run from a file: a link would open something else
            st.caption(carried)
            return url
        st.code(url, language=None, wrap_lines=True)
        st.caption(
            "Opens this page exactly as it is now, with these settings"
            + (" and this training run (recomputed when the link is opened)" if carried else "")
            + ". Copy it with the button in the box; a list of such links is a lesson plan."
        )
    return url


def link_too_long(url: str) -> str | None:
    """A warning, in words, if ``url`` is too long to share; None if it is fine."""
    if len(url) <= MAX_LINK_CHARS:
        return None
    return (
        f"The link to this view is {len(url):,} characters long, too long to share: links over about "
        f"{MAX_LINK_CHARS:,} characters get cut or dropped on the way (a browser drops one of about 6,000 "
        "without a word), so it would not open this view. The page works as usual; shorten the longest "
        "text setting to get a link that does."
    )


def link(params: dict[str, str]) -> str:
    """The full URL of the current page with ``params``."""
    base = st.context.url or "/" + st.session_state.get(PAGE, "")  # None under AppTest
    return base + ("?" + urlencode(params) if params else "")


def show_warnings(warnings: list[str]) -> None:
    """One warning box for a link's bad parameters, one line each (pg.app.state's messages are
    Markdown-safe: what came from the URL sits in code spans)."""
    if warnings:
        st.warning(
            "\n".join(f"- {message}" for message in warnings) if len(warnings) > 1 else warnings[0],
            icon=":material/link_off:",
        )


def app_params() -> dict[str, list[str]]:
    """Only the app-wide keys of the URL (presenter mode)."""
    return {key: values for key, values in query().items() if key in APP_KEYS}


def _summary(values) -> str:
    values = list(values)
    if len(values) <= 8:
        return ", ".join(map(str, values))
    return ", ".join(map(str, values[:4])) + ", …, " + ", ".join(map(str, values[-2:]))
