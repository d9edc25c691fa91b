"""Save and load a policy, with its training config, history and snapshots, as one .npz file.

A checkpoint is a zip archive written by ``np.savez_compressed``; every member is a plain
NumPy array, and nothing in it is ever unpickled (``np.load(..., allow_pickle=False)``).

=============================  =======  ===========  ========================================
member                         dtype    shape        meaning
=============================  =======  ===========  ========================================
``meta``                       unicode  ()           JSON object, see below
``params``                     float64  (P,)         ``policy.params``
``history.<field>``            float64  (U,)         one column per field (pg.runs.history layout)
``snapshot_iterations``        int64    (K,)         the update each snapshot was taken after
``snapshot_params``            float64  (K, P)       ``policy.params`` at those updates
=============================  =======  ===========  ========================================

``meta`` holds ``{"format": "pg-policy", "version": 1, "policy": policy.spec,
"config": TrainConfig.to_dict() or null, "history": [field, ...], "n_snapshots": K,
"created_by": "..."}``.

A file is usable only if every page can show it: the policy is a CartPole policy (4
observations, 2 actions), its parameters and snapshots are finite and of a size training can
reach, the stored config trains that same policy, snapshots and the history's ``iteration``
column hold whole update numbers in the range TrainConfig allows, and each update is
snapshotted at most once. ``save_policy`` refuses to write what would not load back.

Loading reads the file by its content, never its name: a checkpoint renamed to ``.csv`` still
loads, and a CSV renamed to ``.npz`` is refused as a text file. Every problem with a file
raises ``CheckpointError`` with one sentence saying what is wrong and what was expected;
the size of the file, the number and names of its members and their declared uncompressed
sizes are all checked before a single array is decompressed.

>>> from pg.algo.policies import make_policy
>>> data = policy_to_bytes(make_policy("linear", seed=0))
>>> load_policy(data).params.shape
(10,)
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from pg.algo.policies import POLICY_KINDS, SoftmaxPolicy, policy_from_spec
from pg.algo.reinforce import TrainConfig

FORMAT_NAME = "pg-policy"
FORMAT_VERSION = 1
CREATED_BY = "pg (Policy Gradients, Visually)"

# The largest file this app writes in practice: a 2 x 64 MLP policy (4,610 parameters) with
# 500 snapshots is 500 * 4,610 * 8 B = 18.4 MB of float64, plus 10,000 history rows of 13
# columns (1.0 MB). Trained weights barely compress, so that file is about 20 MB on disk and
# in memory. 32 MiB on disk and 64 MiB decompressed leave room for that worst case, while a
# typical file (a linear or 32-unit policy, ~200 snapshots) is a few kilobytes to 1.5 MB.
MAX_FILE_BYTES = 32 * 2**20
"""refuse files larger than this (bytes on disk), before reading them"""
MAX_UNCOMPRESSED_BYTES = 64 * 2**20
"""refuse archives whose members declare more than this in total (zip bombs)"""
MAX_MEMBERS = 64
"""refuse archives with more members than this (a real file has at most 4 + 13)"""
MAX_META_BYTES = 1 * 2**20
"""the JSON metadata is a few hundred bytes; refuse a metadata member larger than this"""

CARTPOLE_OBS_DIM = 4
"""CartPole's observation: x, x_dot, theta, theta_dot (pg.envs.cartpole)"""
CARTPOLE_ACTIONS = 2
"""CartPole's actions: push left, push right"""
MAX_PARAM_MAGNITUDE = 1e12
"""refuse parameters larger than this in size. Training cannot get near it (an Adam step moves
a parameter by about lr <= 10, and a run has at most 10,000,000 updates: 1e8), and below it
every number the pages draw is finite (logits, P(right), the linear policy's weight
differences); at 1e308 a weight difference overflows to infinity"""
MAX_ITERATION = 10_000_000
"""the largest update number: TrainConfig's max_updates allows no more"""
MAX_SNAPSHOTS = 10_000
"""the most snapshots a file can hold: ``python -m pg train --max-snapshots`` allows no more"""

_FIXED_MEMBERS = ("meta", "params", "snapshot_iterations", "snapshot_params")
_HISTORY_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_ZIP_MAGIC = b"PK\x03\x04"
_EMPTY_ZIP_MAGIC = b"PK\x05\x06"
_NPY_MAGIC = b"\x93NUMPY"


class CheckpointError(ValueError):
    """A file that is not a valid policy checkpoint; the message says what is wrong."""


@dataclass
class Run:
    """What a checkpoint holds."""

    policy: SoftmaxPolicy
    """the policy, rebuilt from its spec and parameters"""
    config: dict | None = None
    """the TrainConfig as a dict (validated), or None if the file has none"""
    history: dict[str, np.ndarray] = field(default_factory=dict)
    """{field: (U,) float64}; empty if the file has none"""
    snapshots: list[tuple[int, SoftmaxPolicy]] = field(default_factory=list)
    """[(iteration, policy)] in file order; empty if the file has none"""
    meta: dict = field(default_factory=dict)
    """the file's JSON metadata, as stored"""

    def checkpoints(self) -> list[tuple[int, SoftmaxPolicy]]:
        """[(iteration, policy)] from the earliest saved snapshot to the final policy: the
        policies a viewer can step through (Policy heatmap, Replay).

        The final policy is always the last entry (appended if the snapshots stop short of it);
        a run saved without snapshots gives just [(last iteration, final policy)].
        """
        snapshots = sorted(self.snapshots, key=lambda item: item[0])
        if snapshots and np.array_equal(snapshots[-1][1].params, self.policy.params):
            return snapshots
        iterations = np.asarray(self.history.get("iteration", []), dtype=np.float64)
        iterations = iterations[np.isfinite(iterations)]  # load_run refuses NaN; a Run built in code may not
        last = int(iterations.max()) if len(iterations) else None
        if last is None or (snapshots and last <= snapshots[-1][0]):
            last = snapshots[-1][0] + 1 if snapshots else 0
        return [*snapshots, (last, self.policy)]


# ---------------------------------------------------------------------------------------------
# Saving
# ---------------------------------------------------------------------------------------------
def save_policy(path_or_filelike, policy: SoftmaxPolicy, config=None, history=None, snapshots=None) -> None:
    """Write ``policy`` (and optionally its run) as a .npz checkpoint.

    Args:
        path_or_filelike: a path (written exactly as given: no ".npz" is appended) or a
            binary file-like object open for writing.
        policy: the policy to store.
        config: a TrainConfig or a dict that ``TrainConfig.from_dict`` accepts.
        history: {field: (U,) numbers}, equal lengths (see pg.runs.history.HISTORY_FIELDS).
        snapshots: [(iteration, params)] where params is a (P,) array or a policy.

    Raises ValueError (before writing anything) if the inputs would not load back.
    """
    arrays = _arrays_to_save(policy, config, history, snapshots)
    if isinstance(path_or_filelike, (str, os.PathLike)):
        with open(path_or_filelike, "wb") as f:
            np.savez_compressed(f, **arrays)
    else:
        np.savez_compressed(path_or_filelike, **arrays)


def policy_to_bytes(policy: SoftmaxPolicy, config=None, history=None, snapshots=None) -> bytes:
    """The checkpoint file's bytes (e.g. for a download button)."""
    buffer = io.BytesIO()
    save_policy(buffer, policy, config=config, history=history, snapshots=snapshots)
    return buffer.getvalue()


def _arrays_to_save(policy, config, history, snapshots) -> dict[str, np.ndarray]:
    if not isinstance(policy, SoftmaxPolicy):
        raise ValueError(f"policy must be a SoftmaxPolicy, got {type(policy).__name__}")
    params = np.asarray(policy.params, dtype=np.float64)
    if not np.isfinite(params).all():
        raise ValueError("the policy has NaN or infinite parameters; save the last good policy instead")
    _check_fits_cartpole(policy.spec)
    _check_magnitude("params", params)
    arrays = {"params": params}

    config_dict = _config_to_dict(config)
    _check_config_trains(config_dict, policy.spec)

    history_fields = []
    if history:
        lengths = set()
        for name, column in history.items():
            if not isinstance(name, str) or not _HISTORY_NAME.match(name):
                raise ValueError(f"history field names must be identifiers, got {name!r}")
            column = np.asarray(column, dtype=np.float64)
            if column.ndim != 1:
                raise ValueError(f"history column {name!r} must be 1-D, got shape {column.shape}")
            lengths.add(len(column))
            arrays[f"history.{name}"] = column
            history_fields.append(name)
        if len(lengths) > 1:
            raise ValueError(f"history columns must have equal lengths, got lengths {sorted(lengths)}")
        if "iteration" in history_fields:
            _check_iteration_column(arrays["history.iteration"])

    if snapshots:
        iterations, rows = [], []
        for iteration, snapshot in snapshots:
            row = snapshot.params if isinstance(snapshot, SoftmaxPolicy) else snapshot
            row = np.asarray(row, dtype=np.float64)
            if row.shape != params.shape:
                raise ValueError(
                    f"snapshot at iteration {iteration} has shape {row.shape}, the policy's "
                    f"parameters have shape {params.shape}"
                )
            if not np.isfinite(row).all():
                raise ValueError(f"snapshot at iteration {iteration} has NaN or infinite parameters")
            _check_magnitude(f"the snapshot at iteration {iteration}", row)
            iterations.append(int(iteration))
            rows.append(row)
        _check_snapshot_iterations(iterations)
        arrays["snapshot_iterations"] = np.array(iterations, dtype=np.int64)
        arrays["snapshot_params"] = np.stack(rows)

    meta = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "policy": policy.spec,
        "config": config_dict,
        "history": history_fields,
        "n_snapshots": len(snapshots) if snapshots else 0,
        "created_by": CREATED_BY,
    }
    arrays["meta"] = np.array(json.dumps(meta, allow_nan=False))
    return arrays


def _config_to_dict(config) -> dict | None:
    if config is None:
        return None
    if isinstance(config, TrainConfig):
        return config.to_dict()
    if isinstance(config, Mapping):
        return TrainConfig.from_dict(dict(config)).to_dict()  # raises ValueError if invalid
    raise ValueError(f"config must be a TrainConfig or a dict, got {type(config).__name__}")


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------
def load_policy(source) -> SoftmaxPolicy:
    """The policy stored in a checkpoint (a path, bytes, or a binary file-like object)."""
    return load_run(source).policy


def load_run(source) -> Run:
    """Everything stored in a checkpoint: policy, config, history, snapshots, metadata.

    ``source`` is a path (str or os.PathLike), bytes, or a binary file-like object such as
    Streamlit's UploadedFile. Raises CheckpointError for any problem with the file.
    """
    data = _read_bounded(source)
    _check_signature(data)
    arrays = _read_arrays(data)
    meta = _parse_meta(arrays)

    spec = _check_spec(meta.get("policy"))
    params = _float_array(arrays, "params", ndim=1)
    try:
        policy = policy_from_spec(spec, params)
    except (ValueError, TypeError) as error:
        raise CheckpointError(f"the parameters do not fit the declared policy: {error}") from None

    config = _check_config(meta.get("config"))
    _check_config_trains(config, spec)
    history = _check_history(meta.get("history"), arrays)
    snapshots = _check_snapshots(arrays, policy)
    return Run(policy=policy, config=config, history=history, snapshots=snapshots, meta=meta)


# -- step 1: bytes, with the size checked before reading -------------------------------------
def _read_bounded(source) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        _check_size(len(data))
        return data
    if isinstance(source, (str, os.PathLike)):
        return _read_path(source)
    if hasattr(source, "read") or hasattr(source, "getvalue"):
        return _read_filelike(source)
    raise CheckpointError(
        f"cannot read a checkpoint from a {type(source).__name__}; expected a path, bytes or a binary file"
    )


def _read_path(path) -> bytes:
    name = os.fspath(path)
    try:
        size = os.stat(name).st_size
    except FileNotFoundError:
        raise CheckpointError(f"cannot read {name}: no such file") from None
    except OSError as error:
        raise CheckpointError(f"cannot read {name}: {error.strerror or error}") from None
    if os.path.isdir(name):
        raise CheckpointError(f"cannot read {name}: it is a directory, expected a .npz policy file")
    _check_size(size)
    try:
        with open(name, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise CheckpointError(f"cannot read {name}: {error.strerror or error}") from None
    _check_size(len(data))  # the file may have grown since stat
    return data


def _read_filelike(source) -> bytes:
    size = getattr(source, "size", None)
    if not isinstance(size, int):
        size = None
        try:
            here = source.tell()
            size = source.seek(0, io.SEEK_END) - here
            source.seek(here)
        except (AttributeError, OSError, ValueError):
            pass  # not seekable: the bounded read below still enforces the cap
    if size is not None:
        _check_size(size)
    try:
        if hasattr(source, "getvalue"):
            data = source.getvalue()
        else:
            data = source.read(MAX_FILE_BYTES + 1)
    except (OSError, ValueError) as error:
        raise CheckpointError(f"cannot read the uploaded file: {error}") from None
    if isinstance(data, str):
        raise CheckpointError("the file was opened in text mode; open it in binary mode ('rb')")
    data = bytes(data)
    _check_size(len(data))
    return data


def _check_size(size: int) -> None:
    if size == 0:
        raise CheckpointError("the file is empty; expected a .npz policy file")
    if size > MAX_FILE_BYTES:
        raise CheckpointError(
            f"the file is {size / 2**20:.1f} MiB, larger than the {MAX_FILE_BYTES / 2**20:.0f} MiB "
            "a policy file can be; is it the right file?"
        )


# -- step 2: what kind of file is it? ---------------------------------------------------------
def _check_signature(data: bytes) -> None:
    if data.startswith(_ZIP_MAGIC) or data.startswith(_EMPTY_ZIP_MAGIC):
        return
    if data.startswith(_NPY_MAGIC):
        raise CheckpointError(
            "this is a single NumPy .npy array, not a .npz policy file"
            + (" (and it holds pickled Python objects, which are never loaded)" if _npy_has_objects(data) else "")
        )
    if data[:1] == b"\x80" and data[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        raise CheckpointError(
            "this is a Python pickle, not a .npz policy file; pickles are never loaded because "
            "loading one can run arbitrary code"
        )
    if _looks_like_text(data[:1024]):
        raise CheckpointError(
            "this is a text file (a CSV or JSON export?), not a .npz policy file; "
            "upload the policy file downloaded from the app or written by `python -m pg train`"
        )
    raise CheckpointError(
        "this is not a policy file: expected a .npz archive (a zip file starting with 'PK'), "
        f"but the file starts with bytes {data[:8].hex(' ')}"
    )


def _npy_has_objects(data: bytes) -> bool:
    try:
        _, _, dtype = _read_npy_header(io.BytesIO(data))
    except Exception:
        return False
    return dtype.hasobject


def _looks_like_text(head: bytes) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        # a multi-byte character cut at the end of the sample is still text
        try:
            text = head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return False
    return bool(text) and all(ch.isprintable() or ch in "\r\n\t" for ch in text)


# -- step 3: the zip's table of contents, then the arrays -------------------------------------
def _read_arrays(data: bytes) -> dict[str, np.ndarray]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise CheckpointError(
            "the file starts like a .npz archive but cannot be opened; it is probably truncated "
            "or damaged (download or save it again)"
        ) from None
    with archive:
        _check_members(infos)
        for info in infos:
            _check_member_header(archive, info)
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                return {name: npz[name] for name in npz.files}
        except Exception as error:  # zlib, CRC and header errors all mean a damaged file
            raise CheckpointError(
                f"the .npz archive is damaged and its arrays cannot be read ({_one_line(error)}); "
                "save or download the file again"
            ) from None


def _check_members(infos: list[zipfile.ZipInfo]) -> None:
    if len(infos) > MAX_MEMBERS:
        raise CheckpointError(
            f"the archive has {len(infos)} members, more than the {MAX_MEMBERS} a policy file can have"
        )
    names = [info.filename for info in infos]
    if len(set(names)) != len(names):
        duplicate = next(n for n in names if names.count(n) > 1)
        raise CheckpointError(f"the archive holds member {duplicate!r} twice; a policy file names each array once")
    for name in names:
        if not _is_expected_member(name):
            raise CheckpointError(
                f"unexpected member {name!r} in the archive; a policy file holds only meta.npy, "
                "params.npy, history.<field>.npy, snapshot_iterations.npy and snapshot_params.npy"
            )
    for info in infos:
        if info.flag_bits & 0x1:
            raise CheckpointError(f"member {info.filename!r} is encrypted; policy files are never encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise CheckpointError(
                f"member {info.filename!r} uses zip compression method {info.compress_type}; "
                "policy files use only 'stored' or 'deflated'"
            )
    total = sum(info.file_size for info in infos)
    if total > MAX_UNCOMPRESSED_BYTES:
        raise CheckpointError(
            f"the archive would decompress to {total / 2**20:.0f} MiB, more than the "
            f"{MAX_UNCOMPRESSED_BYTES / 2**20:.0f} MiB a policy file can hold; refusing to unpack it"
        )
    for info in infos:
        if info.filename == "meta.npy" and info.file_size > MAX_META_BYTES:
            raise CheckpointError(
                f"the metadata member is {info.file_size:,} bytes; real metadata is a few hundred bytes"
            )


def _is_expected_member(name: str) -> bool:
    if not name.endswith(".npy"):
        return False
    stem = name[: -len(".npy")]
    if stem in _FIXED_MEMBERS:
        return True
    return stem.startswith("history.") and bool(_HISTORY_NAME.match(stem[len("history.") :]))


def _check_member_header(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    """Read only the .npy header: refuse object arrays (pickles) before np.load sees them."""
    name = info.filename[: -len(".npy")]
    try:
        with archive.open(info) as member:
            shape, _, dtype = _read_npy_header(member)
    except CheckpointError:
        raise
    except Exception as error:
        raise CheckpointError(
            f"member {name!r} is not a readable NumPy array ({_one_line(error)}); the file is damaged"
        ) from None
    if dtype.hasobject:
        raise CheckpointError(
            f"member {name!r} holds pickled Python objects (dtype {dtype}), which are never loaded "
            "because unpickling can run arbitrary code; a policy file holds only numbers and text"
        )
    if dtype.kind not in "biufU" or dtype.fields is not None or dtype.subdtype is not None:
        raise CheckpointError(f"member {name!r} has dtype {dtype}; a policy file holds only numbers and text")
    if math.prod(shape) * dtype.itemsize > info.file_size:
        raise CheckpointError(
            f"member {name!r} declares shape {shape} of {dtype}, more data than the member holds; "
            "the file is damaged"
        )


def _read_npy_header(f):
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(f)
    return np.lib.format.read_array_header_2_0(f)


# -- step 4: metadata ------------------------------------------------------------------------
def _parse_meta(arrays: dict[str, np.ndarray]) -> dict:
    if "meta" not in arrays:
        raise CheckpointError(
            "the archive has no metadata (meta.npy); it is a .npz file but not a policy file written by this app"
        )
    raw = arrays["meta"]
    if raw.dtype.kind == "U" and raw.size == 1:
        text = str(raw.reshape(()))
    elif raw.dtype == np.uint8 and raw.ndim == 1:
        try:
            text = raw.tobytes().decode("utf-8")
        except UnicodeDecodeError:
            raise CheckpointError("the metadata is not UTF-8 text; expected a JSON object") from None
    else:
        raise CheckpointError(
            f"the metadata is an array of dtype {raw.dtype} and shape {raw.shape}; expected one JSON string"
        )
    try:
        meta = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise CheckpointError(f"the metadata is not valid JSON ({_one_line(error)})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"the metadata must be a JSON object, got a JSON {type(meta).__name__}")
    if meta.get("format") != FORMAT_NAME:
        raise CheckpointError(
            f"the file's format is {meta.get('format')!r}, expected {FORMAT_NAME!r}; it was not written by this app"
        )
    version = meta.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise CheckpointError(f"the file's format version is {version!r}; expected a whole number >= 1")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"the file has format version {version}, but this app reads version {FORMAT_VERSION}; "
            "it was written by a newer version of the app, so update the app to load it"
        )
    return meta


def _check_spec(spec) -> dict:
    if not isinstance(spec, dict):
        raise CheckpointError(f"the metadata's 'policy' must be an object like {{'kind': 'linear', ...}}, got {spec!r}")
    kind = spec.get("kind")
    if kind not in POLICY_KINDS:
        raise CheckpointError(f"unknown policy kind {kind!r}; this app knows {', '.join(POLICY_KINDS)}")
    for key in ("obs_dim", "n_actions"):
        value = spec.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 4096:
            raise CheckpointError(f"the policy's {key} must be an integer in [1, 4096], got {value!r}")
    if kind == "mlp":
        hidden = spec.get("hidden")
        if (
            not isinstance(hidden, list)
            or not 1 <= len(hidden) <= 16
            or not all(isinstance(h, int) and not isinstance(h, bool) and 1 <= h <= 4096 for h in hidden)
        ):
            raise CheckpointError(
                f"the MLP policy's hidden sizes must be a list of 1 to 16 integers in [1, 4096], got {hidden!r}"
            )
    _check_fits_cartpole(spec)
    return spec


def _check_fits_cartpole(spec: dict) -> None:
    """Every page and ``evaluate`` run the policy on CartPole: 4 numbers in, 2 actions out."""
    obs_dim, n_actions = spec["obs_dim"], spec["n_actions"]
    if (obs_dim, n_actions) != (CARTPOLE_OBS_DIM, CARTPOLE_ACTIONS):
        raise CheckpointError(
            f"the policy takes {_count(obs_dim, 'observation')} and chooses between {_count(n_actions, 'action')}, "
            f"but CartPole has {CARTPOLE_OBS_DIM} observations (x, x_dot, theta, theta_dot) and "
            f"{CARTPOLE_ACTIONS} actions (push left, push right), so this policy is for another task"
        )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


# -- step 5: arrays --------------------------------------------------------------------------
def _float_array(arrays: dict[str, np.ndarray], name: str, ndim: int) -> np.ndarray:
    if name not in arrays:
        raise CheckpointError(f"the archive has no {name!r} array; a policy file always stores the parameters")
    values = arrays[name]
    if values.dtype.kind != "f":
        raise CheckpointError(f"{name} must hold floating-point numbers, got dtype {values.dtype}")
    if values.ndim != ndim:
        raise CheckpointError(f"{name} must be a {ndim}-D array, got shape {values.shape}")
    if not np.isfinite(values).all():
        raise CheckpointError(f"{name} contains NaN or infinite values; a saved policy must be finite")
    values = values.astype(np.float64)
    _check_magnitude(name, values)
    return values


def _check_magnitude(name: str, values: np.ndarray) -> None:
    largest = float(np.max(np.abs(values), initial=0.0))
    if largest > MAX_PARAM_MAGNITUDE:
        raise CheckpointError(
            f"{name} holds a value of size {largest:.3g}, beyond the {MAX_PARAM_MAGNITUDE:.0e} that training "
            "can reach, so the pages could not draw this policy"
        )


def _check_config(config) -> dict | None:
    if config is None:
        return None
    if not isinstance(config, dict):
        raise CheckpointError(f"the stored training config must be a JSON object, got {config!r}")
    try:
        return TrainConfig.from_dict(config).to_dict()
    except (ValueError, TypeError) as error:
        raise CheckpointError(f"the stored training config is invalid: {error}") from None


def _check_config_trains(config: dict | None, spec: dict) -> None:
    """The stored config (validated) must describe the policy the file holds."""
    if config is None:
        return
    described, held = _policy_words(config["policy"], config["hidden"]), _policy_words(spec["kind"], spec.get("hidden"))
    if described != held:
        raise CheckpointError(f"the stored training config trains {described}, but the file holds {held}")


def _policy_words(kind: str, hidden) -> str:
    return f"an MLP policy with hidden layers {list(hidden)}" if kind == "mlp" else f"a {kind} policy"


def _check_history(history_fields, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    if history_fields is None:
        history_fields = []
    if not isinstance(history_fields, list) or not all(isinstance(f, str) for f in history_fields):
        raise CheckpointError(f"the metadata's 'history' must be a list of field names, got {history_fields!r}")
    stored = sorted(name[len("history.") :] for name in arrays if name.startswith("history."))
    if sorted(history_fields) != stored:
        raise CheckpointError(
            f"the metadata lists history fields {sorted(history_fields)} but the archive holds {stored}"
        )
    history, lengths = {}, {}
    for name in history_fields:
        column = arrays[f"history.{name}"]
        if column.dtype.kind not in "iuf" or column.ndim != 1:
            raise CheckpointError(
                f"history column {name!r} must be a 1-D array of numbers, got dtype {column.dtype} "
                f"and shape {column.shape}"
            )
        column = column.astype(np.float64)
        if np.isinf(column).any():  # NaN is allowed: it marks updates without an evaluation
            raise CheckpointError(f"history column {name!r} contains infinite values")
        history[name] = column
        lengths[name] = len(column)
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{name}: {n}" for name, n in lengths.items())
        raise CheckpointError(f"history columns must all have the same length, got {detail}")
    if "iteration" in history:
        _check_iteration_column(history["iteration"])
    return history


def _check_iteration_column(iterations: np.ndarray) -> None:
    """The pages number checkpoints and look up training returns by this column."""
    missing = np.isnan(iterations)
    if missing.any():
        where = "every row" if missing.all() else f"row {int(np.argmax(missing)) + 1} of {len(iterations)}"
        raise CheckpointError(
            f"history column 'iteration' is NaN in {where}; it must give the update number of every row"
        )
    bad = (iterations != np.round(iterations)) | (iterations < 0) | (iterations > MAX_ITERATION)
    if bad.any():
        raise CheckpointError(
            f"history column 'iteration' holds {_number(iterations[np.argmax(bad)])}; update numbers are whole "
            f"numbers from 0 to {MAX_ITERATION:,}"
        )


def _check_snapshot_iterations(iterations) -> None:
    iterations = np.asarray(iterations)
    if len(iterations) > MAX_SNAPSHOTS:
        raise CheckpointError(
            f"there are {len(iterations):,} snapshots, more than the {MAX_SNAPSHOTS:,} a policy file can hold"
        )
    bad = (iterations < 0) | (iterations > MAX_ITERATION)
    if bad.any():
        raise CheckpointError(
            f"snapshot_iterations holds {iterations[np.argmax(bad)]}; update numbers are whole numbers "
            f"from 0 to {MAX_ITERATION:,}"
        )
    values, counts = np.unique(iterations, return_counts=True)
    if (counts > 1).any():
        raise CheckpointError(
            f"snapshot_iterations lists update {values[np.argmax(counts > 1)]} more than once; "
            "a run keeps one snapshot per update"
        )


def _check_snapshots(arrays: dict[str, np.ndarray], policy: SoftmaxPolicy) -> list[tuple[int, SoftmaxPolicy]]:
    has_iterations, has_params = "snapshot_iterations" in arrays, "snapshot_params" in arrays
    if not has_iterations and not has_params:
        return []
    if has_iterations != has_params:
        raise CheckpointError("the archive has only one of snapshot_iterations and snapshot_params; expected both")
    iterations = arrays["snapshot_iterations"]
    if iterations.dtype.kind not in "iu" or iterations.ndim != 1:
        raise CheckpointError(
            f"snapshot_iterations must be a 1-D array of integers, got dtype {iterations.dtype} "
            f"and shape {iterations.shape}"
        )
    if (iterations < 0).any():
        raise CheckpointError("snapshot_iterations must be >= 0")
    _check_snapshot_iterations(iterations)
    rows = _float_array(arrays, "snapshot_params", ndim=2)
    n_params = policy.params.size
    if rows.shape[1] != n_params:
        raise CheckpointError(
            f"snapshot_params rows have {rows.shape[1]} values, but the policy has {n_params} parameters"
        )
    if len(rows) != len(iterations):
        raise CheckpointError(
            f"there are {len(iterations)} snapshot iterations but {len(rows)} snapshot parameter rows"
        )
    return [(int(it), policy.with_params(row)) for it, row in zip(iterations, rows)]


def _number(value: float) -> str:
    """An update number as written: 12 or -3 or 10,000,005 when whole, else 0.5 or 1e+300."""
    value = float(value)
    return f"{int(value):,}" if value.is_integer() and abs(value) < 1e15 else f"{value:g}"


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__

