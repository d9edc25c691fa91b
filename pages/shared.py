"""Streamlit glue shared by the pages (not a page itself): cached loads and the current run.

Pages import from here; it imports pg, never a page.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from pages.linked_run import open_linked_run
from pg.app import registry
from pg.app.memory import MemoryJanitor
from pg.app.text import file_name, plain
from pg.runs.checkpoint import CheckpointError, Run, load_run

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_POLICY = ROOT / "assets" / "policy.npz"


@st.cache_resource(show_spinner=False)
def shipped_run() -> Run:
    """The pre-trained policy that ships with the app (loaded once per server)."""
    return load_run(SHIPPED_POLICY)


SHIPPED_LABEL = "the pre-trained policy shipped with the app"


def current_run() -> tuple[Run, str]:
    """The run the pages show: the visitor's own training run if there is one (a link's run is
    recomputed first, with a progress bar: pages/links.py), else the shipped pre-trained policy.
    Returns (run, a phrase naming it)."""
    policy_uploader()
    ss = st.session_state
    open_linked_run(run_registry(), "your own run" if ss.get("run") is not None else SHIPPED_LABEL)
    run = ss.get("run")
    if run is None:
        return shipped_run(), SHIPPED_LABEL
    label = ss.get("run_label", "your training run")
    if label == f"your file {ss.get('run_file')}":  # the uploader's run: the name is the visitor's text
        return run, f"your file {file_name(ss['run_file'])}"
    return run, label


@st.cache_resource(show_spinner=False)
def memory_janitor() -> MemoryJanitor:
    """One per server: gives the memory that finished sessions freed back to the system every
    10 s (pg/app/memory.py says why a Streamlit server needs it)."""

    def log(released: int, seconds: float):
        print(f"[pg] gave {released / 2**20:.0f} MB of freed memory back in {seconds * 1000:.0f} ms", flush=True)

    return MemoryJanitor(interval=10.0, on_release=log).start()


@st.cache_resource(show_spinner=False)
def server_budget() -> registry.ServerBudget:
    """One per server: the memory that computing runs and comparisons may hold together."""
    return registry.ServerBudget()


@st.cache_resource(show_spinner=False)
def run_registry() -> registry.Registry:
    """One per server: sessions that start the same settings share one computation (a LiveRun
    per (TrainConfig, number of seeds)); idle ones are swept away."""
    return registry.run_registry(max_entries=16, budget=server_budget()).start_sweeping(on_cancel=_log_cancel("run"))


@st.cache_resource(show_spinner=False)
def comparison_registry() -> registry.Registry:
    """One per server: sessions that run the same settings share one computation (a Comparison
    per CompareSettings); idle ones are swept away."""
    return registry.comparison_registry(max_entries=8, budget=server_budget()).start_sweeping(
        on_cancel=_log_cancel("comparison"))


def _log_cancel(kind: str):
    def log(n: int):
        print(f"[pg] cancelled {n} {kind}(s) nobody watches any more; their buffers are freed", flush=True)

    return log


def form_widget(name: str, kind: str, label: str, options, prefix: str = "train_"):
    """The widget for one field of a pg.app.presets form row (field, kind, label, options)."""
    key = f"{prefix}{name}"
    if kind == "choice":
        return st.selectbox(label, options, key=key)
    if kind == "bool":
        return st.toggle(label, key=key)
    if kind == "text":
        return st.text_input(label, key=key)
    low, high, step = options
    if kind == "int":
        return st.number_input(label, int(low), int(high), step=int(step), key=key)
    return st.number_input(label, float(low), float(high), step=float(step), format="%.4g", key=key)


UPLOAD_LIMIT_MB = 5
"""The one upload limit, in MB: .streamlit/config.toml's server.maxUploadSize says the same.
The browser enforces it before sending a byte (so a small server never receives a large file)
and says "File must be 5.0MB or smaller."; a linear policy's file is a few KB."""
MAX_UPLOAD_BYTES = UPLOAD_LIMIT_MB * 10**6
"""The same limit checked here, for a client that skips the browser's check. Streamlit's
browser code counts 1 MB as 10**6 bytes (as 1024**2 only on Windows), so this is the smaller
reading: no file the browser refuses gets through, and the message names the same 5 MB."""


def policy_uploader() -> None:
    """A sidebar uploader for a policy file (from ``python -m pg train`` or a download).

    The size is checked before the file is read, the content is validated by pg.runs.checkpoint
    (no pickle, any file name: a valid file renamed to .csv still loads), and a bad file
    only shows an error: the session keeps the run it had.
    """
    upload = st.sidebar.file_uploader(
        "Show your own policy (.npz)", key="policy_upload", max_upload_size=UPLOAD_LIMIT_MB,
        help="A file written by `python -m pg train` or downloaded from Live training.",
    )
    if upload is None or st.session_state.get("policy_upload_id") == upload.file_id:
        if upload is not None and st.session_state.get("policy_upload_error"):
            st.sidebar.error(st.session_state["policy_upload_error"])
        return
    st.session_state["policy_upload_id"] = upload.file_id
    st.session_state["policy_upload_error"] = None
    name = file_name(upload.name)
    if upload.size > MAX_UPLOAD_BYTES:
        error = (f"{name} is {upload.size / 10**6:.1f} MB; policy files are far smaller "
                 f"(the limit is {UPLOAD_LIMIT_MB} MB).")
    else:
        try:
            run = load_run(upload)
        except CheckpointError as problem:
            error = f"Could not use {name}: {plain(problem)}"
        else:
            st.session_state["run"], st.session_state["run_label"] = run, f"your file {upload.name}"
            st.session_state["run_file"] = upload.name
            st.sidebar.success(f"Loaded {name}: a {run.policy.kind} policy, {run.policy.params.size} numbers.")
            return
    st.session_state["policy_upload_error"] = error
    st.sidebar.error(error)
