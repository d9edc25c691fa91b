"""Uploading a policy file on Heatmap and Replay: the corpus of bad files, each with its
message, and the session goes on with the run it had."""

from __future__ import annotations

import io
import pickle
import zipfile

import numpy as np
import pytest
from app_helpers import open_page

from pg import TrainConfig, make_policy
from pg.runs.checkpoint import policy_to_bytes


class Upload:
    """What st.file_uploader returns, enough for the page: name, size, file_id, read()."""

    def __init__(self, name: str, data: bytes):
        self.name, self.size, self.file_id = name, len(data), f"{name}-{len(data)}-{hash(data)}"
        self._data = io.BytesIO(data)

    def read(self, *args):
        return self._data.read(*args)

    def getvalue(self):
        return self._data.getvalue()

    def seek(self, *args):
        return self._data.seek(*args)

    def tell(self):
        return self._data.tell()


def _valid() -> bytes:
    return policy_to_bytes(make_policy("linear", seed=3), config=TrainConfig(seed=3))


def _zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("meta.npy", b"\0" * (100 * 2**20))  # expected names, absurd sizes
        z.writestr("params.npy", b"\0" * (100 * 2**20))
    return buffer.getvalue()


def _npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


CORPUS = {
    "random bytes": ("random.npz", np.random.default_rng(0).bytes(4096), "not"),
    "empty": ("empty.npz", b"", "empty"),
    "pickle payload": ("evil.npz", pickle.dumps({"params": [1, 2]}), "pickle"),
    "zip of many large members": ("bomb.npz", _zip_bomb(), "decompress"),
    "wrong shapes": ("shapes.npz", None, "shape|parameters"),
    "NaN parameters": ("nan.npz", None, "NaN|finite"),
    "unknown version": ("future.npz", None, "version"),
    "too large": ("huge.npz", b"\0" * (5 * 2**20 + 1), "5 MB"),
}


def _hostile(case: str) -> tuple[str, bytes, str]:
    name, data, pattern = CORPUS[case]
    if data is None:
        import json

        from pg.runs.checkpoint import load_run  # noqa: F401  (the format under test)

        good = np.load(io.BytesIO(_valid()), allow_pickle=False)
        members = {k: good[k] for k in good.files}
        meta = json.loads(str(members["meta"]))
        if case == "wrong shapes":
            members["params"] = np.zeros(7)
        elif case == "NaN parameters":
            members["params"] = np.full_like(members["params"], np.nan)
        else:
            meta["version"] = 99
            members["meta"] = np.array(json.dumps(meta))
        data = _npz(**members)
    return name, data, pattern


def _upload(at, upload):
    """Put the upload where the page's uploader reads it, then rerun."""
    import pages.shared as shared

    original = shared.st.sidebar.file_uploader
    try:
        shared.st.sidebar.file_uploader = lambda *a, **k: upload
        return at.run()
    finally:
        shared.st.sidebar.file_uploader = original


@pytest.mark.parametrize("page", ["heatmap", "replay"])
@pytest.mark.parametrize("case", list(CORPUS))
def test_a_bad_upload_gives_a_clear_message_and_the_session_goes_on(page, case):
    at = open_page(page)
    before = at.session_state["run"] if "run" in at.session_state else None
    name, data, pattern = _hostile(case)
    _upload(at, Upload(name, data))
    assert not at.exception
    errors = [e.value for e in at.sidebar.error]
    assert errors and name in errors[0], errors
    if pattern:
        import re

        assert re.search(pattern, errors[0], re.IGNORECASE), errors[0]
    after = at.session_state["run"] if "run" in at.session_state else None
    assert after is before  # nothing lost, nothing replaced


@pytest.mark.parametrize("name", ["policy.npz", "renamed.csv"])
def test_a_valid_upload_is_shown_even_when_renamed(name):
    at = open_page("heatmap")
    _upload(at, Upload(name, _valid()))
    assert not at.exception
    assert at.session_state["run_label"] == f"your file {name}"
    np.testing.assert_array_equal(at.session_state["run"].policy.params, make_policy("linear", seed=3).params)
    assert any(name in s.value for s in at.sidebar.success)
