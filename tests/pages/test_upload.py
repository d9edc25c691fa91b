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
    "just over the browser's 5 MB": ("over.npz", b"\0" * (5 * 10**6 + 1), "5 MB"),
    # issue 12: these passed validation, then broke both pages (and `python -m pg evaluate`)
    "linear policy of 5 observations": ("obs5.npz", None, "5 observations.*CartPole has 4"),
    "policy of 3 actions": ("three.npz", None, "3 actions.*2 actions"),
    "policy of 1 action": ("one.npz", None, "1 action.*2 actions"),
    "MLP of 5 observations": ("mlp5.npz", None, "5 observations"),
    "iteration column all NaN": ("nan_iterations.npz", None, "iteration.*NaN in every row"),
    # more hostile files that look valid
    "iteration column partly NaN": ("some_nan.npz", None, "NaN in row 2 of 3"),
    "negative iterations": ("negative.npz", None, r"holds -1.*whole numbers"),
    "huge iterations": ("huge_iterations.npz", None, r"holds 1e\+18"),
    "fractional iterations": ("fraction.npz", None, r"holds 0\.5"),
    "huge snapshot iteration": ("snap_huge.npz", None, "snapshot_iterations holds 4611686018427387904"),
    "snapshot iteration twice": ("snap_twice.npz", None, "update 3 more than once"),
    "huge parameters": ("big_params.npz", None, r"1e\+300.*training can reach"),
    "infinite snapshot": ("inf_snapshot.npz", None, "NaN or infinite"),
    "snapshots of the wrong size": ("snap_size.npz", None, "rows have 7 values"),
    "config of an unknown policy kind": ("cnn.npz", None, "policy must be one of linear, mlp"),
    "config of another policy": ("other.npz", None, "config trains an MLP policy.*holds a linear policy"),
    "Markdown in the metadata": ("image.npz", None, "format is"),
}


SPECS = {
    "linear policy of 5 observations": {"kind": "linear", "obs_dim": 5, "n_actions": 2},
    "policy of 3 actions": {"kind": "linear", "obs_dim": 4, "n_actions": 3},
    "policy of 1 action": {"kind": "linear", "obs_dim": 4, "n_actions": 1},
    "MLP of 5 observations": {"kind": "mlp", "obs_dim": 5, "n_actions": 2, "hidden": [8]},
}
HISTORIES = {
    "iteration column all NaN": np.full(3, np.nan),
    "iteration column partly NaN": np.array([1.0, np.nan, 3.0]),
    "negative iterations": np.array([-1.0, 0.0, 1.0]),
    "huge iterations": np.array([1.0, 2.0, 1e18]),
    "fractional iterations": np.array([0.5, 1.5, 2.5]),
}
SNAPSHOTS = {
    "huge snapshot iteration": lambda p: (np.array([1, 2**62]), np.stack([p, p])),
    "snapshot iteration twice": lambda p: (np.array([3, 3]), np.stack([p, p])),
    "infinite snapshot": lambda p: (np.array([1, 2]), np.stack([p, np.full_like(p, np.inf)])),
    "snapshots of the wrong size": lambda p: (np.array([1, 2]), np.zeros((2, 7))),
}


def _n_params(spec: dict) -> int:
    sizes = [spec["obs_dim"], *spec.get("hidden", []), spec["n_actions"]]
    return sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))


def _hostile(case: str) -> tuple[str, bytes, str]:
    name, data, pattern = CORPUS[case]
    if data is None:
        import json

        from pg.runs.checkpoint import load_run  # noqa: F401  (the format under test)

        good = np.load(io.BytesIO(_valid()), allow_pickle=False)
        members = {k: good[k] for k in good.files}
        meta = json.loads(str(members["meta"]))
        params = members["params"]
        if case == "wrong shapes":
            members["params"] = np.zeros(7)
        elif case == "NaN parameters":
            members["params"] = np.full_like(params, np.nan)
        elif case == "unknown version":
            meta["version"] = 99
        elif case in SPECS:
            meta["policy"], meta["config"] = SPECS[case], None
            members["params"] = np.zeros(_n_params(SPECS[case]))
        elif case in HISTORIES:
            members["history.iteration"] = HISTORIES[case]
            members.update({f"history.{field}": np.zeros(3) for field in ("mean_return",)})
            meta["history"] = ["iteration", "mean_return"]
        elif case in SNAPSHOTS:
            members["snapshot_iterations"], members["snapshot_params"] = SNAPSHOTS[case](params)
        elif case == "huge parameters":
            members["params"] = np.full_like(params, 1e300)
        elif case == "config of an unknown policy kind":
            meta["config"]["policy"] = "cnn"
        elif case == "config of another policy":
            meta["config"]["policy"] = "mlp"
        elif case == "Markdown in the metadata":
            meta["format"] = "![i](http://e.com/i.png) [x](http://e.com)"
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

        shown = re.sub(r"\\(.)", r"\1", errors[0])  # what a person reads: Markdown escapes resolved
        assert re.search(pattern, shown, re.IGNORECASE), errors[0]
    assert _renders_nothing(errors[0]), errors[0]
    after = at.session_state["run"] if "run" in at.session_state else None
    assert after is before  # nothing lost, nothing replaced


def _renders_nothing(markdown: str) -> bool:
    """No link, image, HTML or emphasis outside code spans: every such character escaped."""
    import re

    outside = re.sub(r"(`+)(?!`).*?(?<!`)\1(?!`)", "", markdown)  # drop the code spans
    return not re.search(r"(?<!\\)[\[\]<>*_$]", outside)


HOSTILE_NAME = "[x](http://e.com) ![i](http://e.com/i.png) *b*.npz"


@pytest.mark.parametrize("page", ["heatmap", "replay"])
def test_a_file_name_is_shown_as_plain_text_never_as_markdown(page):
    at = open_page(page)
    _upload(at, Upload(HOSTILE_NAME, _valid()))
    assert not at.exception
    success = [s.value for s in at.sidebar.success]
    assert success == [f"Loaded `{HOSTILE_NAME}`: a linear policy, 10 numbers."]
    assert at.session_state["run_label"] == f"your file {HOSTILE_NAME}"
    captions = [c.value for c in at.caption if "Showing" in c.value]
    assert captions and f"Showing your file `{HOSTILE_NAME}`" in captions[0], captions
    assert all(_renders_nothing(text) for text in [*success, *captions])

    bad = open_page(page)
    _upload(bad, Upload(HOSTILE_NAME, b"not a policy"))
    errors = [e.value for e in bad.sidebar.error]
    assert errors[0].startswith(f"Could not use `{HOSTILE_NAME}`: ") and _renders_nothing(errors[0]), errors


def test_names_with_backticks_and_line_breaks_stay_in_one_code_span():
    from pg.app.text import file_name

    assert file_name("a``b.npz") == "```a``b.npz```"
    assert file_name("`x.npz") == "`` `x.npz ``"
    assert file_name("a\nb.npz") == "`a b.npz`"


def test_the_upload_limit_is_one_number_in_the_browser_the_server_and_the_page():
    """The browser refuses files over server.maxUploadSize (or the widget's max_upload_size)
    before sending them, counting 1 MB as 10**6 bytes; the page checks the same limit."""
    import tomllib
    from pathlib import Path

    from pages.shared import MAX_UPLOAD_BYTES, UPLOAD_LIMIT_MB

    config = tomllib.loads((Path(__file__).resolve().parents[2] / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == UPLOAD_LIMIT_MB == 5
    assert MAX_UPLOAD_BYTES == UPLOAD_LIMIT_MB * 10**6
    at = open_page("heatmap")
    uploaders = at.sidebar.get("file_uploader")
    assert [u.proto.max_upload_size_mb for u in uploaders] == [UPLOAD_LIMIT_MB]
    _upload(at, Upload("limit.npz", b"\0" * MAX_UPLOAD_BYTES))  # at the limit: read, then refused by content
    assert "5 MB" not in at.sidebar.error[0].value


@pytest.mark.parametrize("name", ["policy.npz", "renamed.csv"])
def test_a_valid_upload_is_shown_even_when_renamed(name):
    at = open_page("heatmap")
    _upload(at, Upload(name, _valid()))
    assert not at.exception
    assert at.session_state["run_label"] == f"your file {name}"
    np.testing.assert_array_equal(at.session_state["run"].policy.params, make_policy("linear", seed=3).params)
    assert any(name in s.value for s in at.sidebar.success)
