"""pg.runs.checkpoint: round trips, and a corpus of hostile or broken files, each refused in words.

Every bad file is built here, in tmp_path or in memory; every refusal is a CheckpointError
whose message is checked, and nothing is ever unpickled (the pickles here record it if so).
"""

from __future__ import annotations

import io
import json
import pickle
import time
import zipfile

import numpy as np
import pytest
from live_helpers import recorded_history

from pg.algo.policies import SoftmaxPolicy, make_policy
from pg.algo.reinforce import TrainConfig, train
from pg.runs.checkpoint import (
    FORMAT_VERSION,
    MAX_FILE_BYTES,
    MAX_ITERATION,
    MAX_PARAM_MAGNITUDE,
    MAX_SNAPSHOTS,
    MAX_UNCOMPRESSED_BYTES,
    CheckpointError,
    Run,
    load_policy,
    load_run,
    policy_to_bytes,
    save_policy,
)
from pg.runs.history import HISTORY_FIELDS

# ---------------------------------------------------------------------------------------------
# Builders
# ---------------------------------------------------------------------------------------------
UNPICKLED: list[str] = []


def _mark_unpickled(tag):
    """Called only if something unpickles one of the hostile payloads below."""
    UNPICKLED.append(tag)
    return tag


class Payload:
    def __reduce__(self):
        return (_mark_unpickled, ("payload",))


@pytest.fixture(autouse=True)
def _nothing_unpickled():
    UNPICKLED.clear()
    yield
    assert UNPICKLED == [], "a hostile pickle was unpickled"


def trained_policy(kind="linear", hidden=(8,), seed=0) -> SoftmaxPolicy:
    policy = make_policy(kind, hidden=hidden, seed=seed)
    policy.params[:] = np.random.default_rng(seed + 1).normal(0.0, 0.5, policy.params.size)
    return policy


def full_run_kwargs(policy):
    rng = np.random.default_rng(2)
    history = {name: rng.normal(size=6) for name in HISTORY_FIELDS}
    history["iteration"] = np.arange(1.0, 7.0)
    history["eval_return"][[1, 3]] = np.nan  # updates without an evaluation
    snapshots = [(1, policy.params * 0.1), (3, policy.with_params(policy.params * 0.5)), (6, policy.params)]
    kind_kwargs = {"hidden": policy.hidden} if policy.kind == "mlp" else {}
    config = TrainConfig(policy=policy.kind, lr=0.05, seed=3, **kind_kwargs)
    return {"config": config, "history": history, "snapshots": snapshots}


def npz_bytes(arrays: dict) -> bytes:
    """An .npz written by NumPy itself (object arrays are pickled: np.savez allows it)."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def arrays_of(data: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


def tampered(data: bytes, drop=(), **replace) -> bytes:
    """A copy of a valid checkpoint with members replaced or dropped."""
    arrays = arrays_of(data)
    for name in drop:
        del arrays[name]
    arrays.update(replace)
    return npz_bytes(arrays)


def with_meta(data: bytes, **changes) -> bytes:
    meta = json.loads(str(arrays_of(data)["meta"]))
    meta.update(changes)
    return tampered(data, meta=np.array(json.dumps(meta)))


@pytest.fixture
def valid() -> bytes:
    policy = trained_policy("linear")
    return policy_to_bytes(policy, **full_run_kwargs(policy))


class FakeUpload:
    """Quacks like Streamlit's UploadedFile: .size, .read(), .getvalue()."""

    def __init__(self, data: bytes, size: int | None = None):
        self._buffer = io.BytesIO(data)
        self.size = len(data) if size is None else size
        self.reads = 0

    def read(self, n=-1):
        self.reads += 1
        return self._buffer.read(n)

    def getvalue(self):
        self.reads += 1
        return self._buffer.getvalue()


# ---------------------------------------------------------------------------------------------
# Round trips
# ---------------------------------------------------------------------------------------------
SOURCES = {
    "path": lambda data, tmp: _write(tmp / "policy.npz", data),
    "str path": lambda data, tmp: str(_write(tmp / "policy.npz", data)),
    "bytes": lambda data, tmp: data,
    "bytearray": lambda data, tmp: bytearray(data),
    "file object": lambda data, tmp: open(_write(tmp / "policy.npz", data), "rb"),  # noqa: SIM115
    "BytesIO": lambda data, tmp: io.BytesIO(data),
    "uploaded file": lambda data, tmp: FakeUpload(data),
}


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def assert_same_policy(a: SoftmaxPolicy, b: SoftmaxPolicy):
    assert type(a) is type(b)
    assert a.spec == b.spec
    assert a.params.dtype == np.float64
    np.testing.assert_array_equal(a.params, b.params)
    obs = np.random.default_rng(5).normal(size=(7, 4))
    np.testing.assert_array_equal(a.probs(obs), b.probs(obs))


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_full_run_round_trips_from_every_source(kind, source, tmp_path):
    policy = trained_policy(kind, hidden=(8, 5))
    kwargs = full_run_kwargs(policy)
    run = load_run(SOURCES[source](policy_to_bytes(policy, **kwargs), tmp_path))

    assert isinstance(run, Run)
    assert_same_policy(run.policy, policy)
    assert run.config == kwargs["config"].to_dict()
    assert list(run.history) == list(HISTORY_FIELDS)
    for name, column in kwargs["history"].items():
        np.testing.assert_array_equal(run.history[name], column)  # NaN in eval_return kept
    assert [it for it, _ in run.snapshots] == [1, 3, 6]
    for (_, snap), (_, expected) in zip(run.snapshots, kwargs["snapshots"]):
        expected = expected.params if isinstance(expected, SoftmaxPolicy) else expected
        assert snap.spec == policy.spec
        np.testing.assert_array_equal(snap.params, expected)
    assert run.meta["format"] == "pg-policy" and run.meta["version"] == FORMAT_VERSION
    assert run.meta["policy"] == policy.spec
    assert run.meta["history"] == list(HISTORY_FIELDS)


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_bare_policy_round_trips_with_empty_extras(kind, tmp_path):
    policy = trained_policy(kind, hidden=(3,))
    path = tmp_path / "bare.npz"
    save_policy(path, policy)
    run = load_run(path)
    assert_same_policy(run.policy, policy)
    assert run.config is None and run.history == {} and run.snapshots == []
    assert_same_policy(load_policy(path), policy)


def test_save_policy_with_a_config_dict_writes_the_exact_path(tmp_path):
    policy = trained_policy("mlp", hidden=(4, 4))
    path = tmp_path / "agent.bin"  # written as given: no ".npz" appended
    save_policy(path, policy, config={"policy": "mlp", "hidden": [4, 4]})
    assert path.exists() and not (tmp_path / "agent.bin.npz").exists()
    run = load_run(path)
    assert_same_policy(run.policy, policy)
    assert run.config["hidden"] == [4, 4] and run.config["lr"] == TrainConfig().lr


def test_save_to_an_open_binary_file(tmp_path):
    policy = trained_policy()
    with open(tmp_path / "p.npz", "wb") as f:
        save_policy(f, policy, history={"iteration": [1, 2]})
    np.testing.assert_array_equal(load_run(tmp_path / "p.npz").history["iteration"], [1.0, 2.0])


def test_history_and_snapshots_of_a_real_run_round_trip():
    updates = list(train(TrainConfig(max_updates=3, eval_episodes=5, seed=1)))
    last = updates[-1].policy
    data = policy_to_bytes(
        last,
        config=TrainConfig(max_updates=3, eval_episodes=5, seed=1),
        history=recorded_history(updates),
        snapshots=[(u.iteration, u.policy) for u in updates],
    )
    run = load_run(data)
    np.testing.assert_array_equal(run.history["iteration"], [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(run.snapshots[-1][1].params, last.params)
    assert run.config["max_updates"] == 3


def test_a_checkpoint_renamed_to_csv_loads_by_its_content(valid, tmp_path):
    # Decision: the name never matters; a checkpoint is recognised by its bytes.
    path = _write(tmp_path / "policy.csv", valid)
    assert load_run(path).policy.kind == "linear"


def test_metadata_is_plain_json_text_not_a_pickle(valid):
    with zipfile.ZipFile(io.BytesIO(valid)) as archive:
        assert sorted(archive.namelist()) == sorted(
            ["meta.npy", "params.npy", "snapshot_iterations.npy", "snapshot_params.npy"]
            + [f"history.{name}.npy" for name in HISTORY_FIELDS]
        )
        assert all(info.compress_type == zipfile.ZIP_DEFLATED for info in archive.infolist())
    meta = arrays_of(valid)["meta"]  # loads with allow_pickle=False
    assert meta.dtype.kind == "U" and meta.shape == ()
    assert json.loads(str(meta))["created_by"]


def test_metadata_as_utf8_bytes_is_read_too(valid):
    meta = str(arrays_of(valid)["meta"]).encode("utf-8")
    data = tampered(valid, meta=np.frombuffer(meta, dtype=np.uint8))
    assert load_run(data).meta["format"] == "pg-policy"


def test_the_largest_realistic_file_fits_under_the_caps():
    """The case MAX_FILE_BYTES is sized for: a 2 x 64 MLP, 500 snapshots, 10,000 history rows."""
    rng = np.random.default_rng(0)
    policy = trained_policy("mlp", hidden=(64, 64))
    history = {name: rng.normal(size=10_000) for name in HISTORY_FIELDS}
    history["iteration"] = np.arange(1.0, 10_001.0)  # update numbers, as a run records them
    snapshots = [(i, rng.normal(size=policy.params.size)) for i in range(1, 501)]
    data = policy_to_bytes(policy, history=history, snapshots=snapshots)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        uncompressed = sum(info.file_size for info in archive.infolist())
    assert len(data) < MAX_FILE_BYTES and uncompressed < MAX_UNCOMPRESSED_BYTES
    assert len(load_run(data).snapshots) == 500


# ---------------------------------------------------------------------------------------------
# Saving refuses what would not load
# ---------------------------------------------------------------------------------------------
def test_save_refuses_bad_inputs():
    policy = trained_policy()
    broken = policy.copy()
    broken.params[0] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite parameters"):
        policy_to_bytes(broken)
    with pytest.raises(ValueError, match="lr must be a number"):
        policy_to_bytes(policy, config={"lr": -1})
    with pytest.raises(ValueError, match="equal lengths"):
        policy_to_bytes(policy, history={"a": [1, 2], "b": [1]})
    with pytest.raises(ValueError, match=r"snapshot at iteration 2 has shape \(3,\)"):
        policy_to_bytes(policy, snapshots=[(2, np.zeros(3))])
    with pytest.raises(ValueError, match="must be a SoftmaxPolicy"):
        policy_to_bytes(np.zeros(10))


# ---------------------------------------------------------------------------------------------
# The bad-file corpus
# ---------------------------------------------------------------------------------------------
def test_error_is_a_value_error():
    assert issubclass(CheckpointError, ValueError)


@pytest.mark.parametrize("make_source", [lambda p: p, lambda p: p.read_bytes(), lambda p: FakeUpload(b"")])
def test_empty_file(make_source, tmp_path):
    path = _write(tmp_path / "empty.npz", b"")
    with pytest.raises(CheckpointError, match="the file is empty; expected a .npz policy file"):
        load_run(make_source(path))


def test_random_bytes(tmp_path):
    path = _write(tmp_path / "random.npz", np.random.default_rng(0).bytes(4096))
    with pytest.raises(CheckpointError, match=r"not a policy file: expected a \.npz archive .* starts with bytes"):
        load_run(path)


def test_raw_pickle_is_refused_without_unpickling(tmp_path):
    path = _write(tmp_path / "policy.npz", pickle.dumps({"params": Payload()}))
    with pytest.raises(CheckpointError, match="this is a Python pickle.*never loaded"):
        load_run(path)


def test_npz_with_an_object_array_is_refused_without_unpickling(valid, tmp_path):
    hostile = tampered(valid, params=np.array([Payload(), 1.0], dtype=object))
    path = _write(tmp_path / "policy.npz", hostile)
    with pytest.raises(CheckpointError, match=r"member 'params' holds pickled Python objects \(dtype object\)"):
        load_run(path)


def test_object_metadata_is_refused_without_unpickling(valid):
    hostile = tampered(valid, meta=np.array({"format": Payload()}, dtype=object))
    with pytest.raises(CheckpointError, match="member 'meta' holds pickled Python objects"):
        load_run(hostile)


def test_single_npy_with_objects_is_refused(tmp_path):
    buffer = io.BytesIO()
    np.save(buffer, np.array([Payload()], dtype=object), allow_pickle=True)
    with pytest.raises(CheckpointError, match=r"single NumPy \.npy array.*pickled Python objects"):
        load_run(buffer.getvalue())


@pytest.fixture(scope="module")
def zip_bomb() -> bytes:
    """A 'params.npy' that declares 200 MiB of zeros, deflated to about 200 KiB."""
    buffer = io.BytesIO()
    header = io.BytesIO()
    n = 200 * 2**20 // 8
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (n,)})
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open("params.npy", "w", force_zip64=True) as member:
            member.write(header.getvalue())
            chunk = bytes(2**23)
            for _ in range(n * 8 // len(chunk)):
                member.write(chunk)
    return buffer.getvalue()


def test_zip_bomb_is_refused_before_decompressing(zip_bomb):
    assert len(zip_bomb) < 1_000_000
    start = time.perf_counter()
    with pytest.raises(CheckpointError, match=r"would decompress to 200 MiB, more than the 64 MiB"):
        load_run(zip_bomb)
    assert time.perf_counter() - start < 0.5  # refused from the table of contents alone


def test_too_many_members(valid):
    extra = {f"history.col{i}": np.zeros(1) for i in range(70)}
    with pytest.raises(CheckpointError, match=r"the archive has \d+ members, more than the 64"):
        load_run(tampered(valid, **extra))


@pytest.mark.parametrize("name", ["evil.npy", "../params.npy", "params", "history.a-b.npy", "snapshot_params.txt"])
def test_unexpected_member_names(valid, name):
    buffer = io.BytesIO(valid)
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr(name, b"hello")
    with pytest.raises(CheckpointError, match=rf"unexpected member {name!r}".replace(".", r"\.")):
        load_run(buffer.getvalue())


def test_duplicate_member(valid):
    buffer = io.BytesIO(valid)
    with pytest.warns(UserWarning), zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr("params.npy", b"again")
    with pytest.raises(CheckpointError, match="holds member 'params.npy' twice"):
        load_run(buffer.getvalue())


def test_member_whose_header_claims_more_data_than_it_holds(valid):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**9,)})
    arrays = arrays_of(valid)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, values in arrays.items():
            if name != "params":
                with archive.open(f"{name}.npy", "w") as member:
                    np.lib.format.write_array(member, values)
        archive.writestr("params.npy", header.getvalue() + bytes(80))
    with pytest.raises(CheckpointError, match=r"member 'params' declares shape \(1000000000,\).*damaged"):
        load_run(buffer.getvalue())


def test_missing_metadata(valid):
    with pytest.raises(CheckpointError, match=r"no metadata \(meta\.npy\)"):
        load_run(tampered(valid, drop=["meta"]))


def test_missing_params(valid):
    with pytest.raises(CheckpointError, match="has no 'params' array"):
        load_run(tampered(valid, drop=["params"]))


def test_metadata_not_json(valid):
    with pytest.raises(CheckpointError, match="the metadata is not valid JSON"):
        load_run(tampered(valid, meta=np.array("{format: pg-policy")))


def test_metadata_not_an_object(valid):
    with pytest.raises(CheckpointError, match="the metadata must be a JSON object, got a JSON list"):
        load_run(tampered(valid, meta=np.array("[1, 2]")))


def test_metadata_of_the_wrong_dtype(valid):
    with pytest.raises(CheckpointError, match=r"metadata is an array of dtype float64 and shape \(3,\)"):
        load_run(tampered(valid, meta=np.zeros(3)))


def test_wrong_format_name(valid):
    with pytest.raises(CheckpointError, match="format is 'sb3-zip', expected 'pg-policy'"):
        load_run(with_meta(valid, format="sb3-zip"))


def test_newer_version(valid):
    with pytest.raises(CheckpointError, match="has format version 99, but this app reads version 1"):
        load_run(with_meta(valid, version=99))


def test_nonsense_version(valid):
    with pytest.raises(CheckpointError, match=r"format version is '1'; expected a whole number >= 1"):
        load_run(with_meta(valid, version="1"))


def test_unknown_policy_kind(valid):
    with pytest.raises(CheckpointError, match="unknown policy kind 'cnn'; this app knows linear, mlp"):
        load_run(with_meta(valid, policy={"kind": "cnn", "obs_dim": 4, "n_actions": 2}))


def test_malformed_policy_spec(valid):
    with pytest.raises(CheckpointError, match=r"obs_dim must be an integer in \[1, 4096\], got -4"):
        load_run(with_meta(valid, policy={"kind": "linear", "obs_dim": -4, "n_actions": 2}))
    with pytest.raises(CheckpointError, match="hidden sizes must be a list"):
        load_run(with_meta(valid, policy={"kind": "mlp", "obs_dim": 4, "n_actions": 2, "hidden": "32"}))


def test_params_of_the_wrong_length(valid):
    bare = tampered(valid, drop=["snapshot_iterations", "snapshot_params"])
    with pytest.raises(CheckpointError, match=r"do not fit.*linear policy .* has 10 parameters, got .* shape \(7,\)"):
        load_run(tampered(bare, params=np.zeros(7)))


def test_params_that_do_not_fit_the_declared_mlp():
    policy = trained_policy("mlp", hidden=(8,))
    data = with_meta(policy_to_bytes(policy), policy={**policy.spec, "hidden": [16]})
    with pytest.raises(CheckpointError, match=r"MLP policy with layers \[4, 16, 2\] has 114 parameters, got .*\(58,\)"):
        load_run(data)


def test_params_of_the_wrong_rank(valid):
    with pytest.raises(CheckpointError, match=r"params must be a 1-D array, got shape \(2, 5\)"):
        load_run(tampered(valid, params=np.zeros((2, 5))))


def test_params_not_floating_point(valid):
    with pytest.raises(CheckpointError, match="params must hold floating-point numbers, got dtype int64"):
        load_run(tampered(valid, params=np.arange(10, dtype=np.int64)))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_params(valid, bad):
    params = arrays_of(valid)["params"].copy()
    params[3] = bad
    with pytest.raises(CheckpointError, match="params contains NaN or infinite values"):
        load_run(tampered(valid, params=params))


def test_non_finite_snapshot(valid):
    rows = arrays_of(valid)["snapshot_params"].copy()
    rows[1, 0] = np.nan
    with pytest.raises(CheckpointError, match="snapshot_params contains NaN or infinite values"):
        load_run(tampered(valid, snapshot_params=rows))


def test_snapshots_of_the_wrong_width(valid):
    with pytest.raises(CheckpointError, match="snapshot_params rows have 7 values, but the policy has 10 parameters"):
        load_run(tampered(valid, snapshot_params=np.zeros((3, 7))))


def test_snapshot_count_mismatch(valid):
    with pytest.raises(CheckpointError, match="3 snapshot iterations but 2 snapshot parameter rows"):
        load_run(tampered(valid, snapshot_params=np.zeros((2, 10))))


def test_snapshot_iterations_without_params(valid):
    with pytest.raises(CheckpointError, match="only one of snapshot_iterations and snapshot_params"):
        load_run(tampered(valid, drop=["snapshot_params"]))


def test_snapshot_iterations_not_integers(valid):
    with pytest.raises(CheckpointError, match="snapshot_iterations must be a 1-D array of integers, got dtype float64"):
        load_run(tampered(valid, snapshot_iterations=np.array([1.0, 2.0, 3.0])))


def test_history_columns_of_unequal_length(valid):
    with pytest.raises(CheckpointError, match=r"history columns must all have the same length, got .*loss: 2"):
        load_run(tampered(valid, **{"history.loss": np.zeros(2)}))


def test_history_column_not_numeric(valid):
    with pytest.raises(CheckpointError, match="history column 'loss' must be a 1-D array of numbers, got dtype <U1"):
        load_run(tampered(valid, **{"history.loss": np.array(list("abcdef"))}))


def test_history_column_with_inf(valid):
    with pytest.raises(CheckpointError, match="history column 'loss' contains infinite values"):
        load_run(tampered(valid, **{"history.loss": np.full(6, np.inf)}))


def test_history_members_disagree_with_metadata(valid):
    with pytest.raises(CheckpointError, match="the metadata lists history fields .* but the archive holds"):
        load_run(tampered(valid, drop=["history.loss"]))


def test_invalid_config_carries_train_configs_message(valid):
    meta = json.loads(str(arrays_of(valid)["meta"]))
    config = {**meta["config"], "lr": -1.0}
    with pytest.raises(CheckpointError, match=r"stored training config is invalid: lr must be a number in \(0, 10\]"):
        load_run(with_meta(valid, config=config))
    with pytest.raises(CheckpointError, match="stored training config is invalid: unknown TrainConfig field.*warp"):
        load_run(with_meta(valid, config={"warp": 9}))
    with pytest.raises(CheckpointError, match="training config must be a JSON object"):
        load_run(with_meta(valid, config=[1]))


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.999])
def test_truncated_file(valid, keep, tmp_path):
    path = _write(tmp_path / "policy.npz", valid[: int(len(valid) * keep)])
    with pytest.raises(CheckpointError, match="probably truncated or damaged"):
        load_run(path)


def test_corrupted_compressed_data(valid):
    """The table of contents intact, the deflated bytes of one member flipped."""
    data = bytearray(valid)
    with zipfile.ZipFile(io.BytesIO(valid)) as archive:
        info = archive.getinfo("params.npy")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for i in range(start + 10, start + info.compress_size - 2):
        data[i] ^= 0xFF
    with pytest.raises(CheckpointError, match="damaged"):
        load_run(bytes(data))


def test_oversize_file_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.npz"
    with open(path, "wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)  # sparse: nothing is written
    with pytest.raises(CheckpointError, match=r"the file is 32\.0 MiB, larger than the 32 MiB a policy file can be"):
        load_run(path)
    with pytest.raises(CheckpointError, match="larger than the 32 MiB"):
        load_run(bytes(MAX_FILE_BYTES + 1))


def test_oversize_upload_is_refused_without_reading_it():
    upload = FakeUpload(b"PK\x03\x04", size=MAX_FILE_BYTES + 1)
    with pytest.raises(CheckpointError, match="larger than the 32 MiB"):
        load_run(upload)
    assert upload.reads == 0


def test_oversize_seekable_file_without_size_attribute():
    stream = io.BytesIO(bytes(MAX_FILE_BYTES + 1))
    with pytest.raises(CheckpointError, match="larger than the 32 MiB"):
        load_run(stream)


def test_csv_renamed_to_npz(tmp_path):
    path = _write(tmp_path / "policy.npz", b"iteration,mean_return\n1,22.5\n2,30.0\n")
    with pytest.raises(CheckpointError, match=r"this is a text file \(a CSV or JSON export\?\), not a \.npz"):
        load_run(path)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(CheckpointError, match=r"cannot read .*nope\.npz: no such file"):
        load_run(tmp_path / "nope.npz")
    with pytest.raises(CheckpointError, match="it is a directory, expected a .npz policy file"):
        load_run(tmp_path)


def test_text_mode_file(tmp_path):
    path = _write(tmp_path / "policy.npz", b"abc")
    with open(path) as f, pytest.raises(CheckpointError, match=r"opened in text mode; open it in binary mode"):
        load_run(f)


def test_unsupported_source_type():
    with pytest.raises(CheckpointError, match="cannot read a checkpoint from a int; expected a path, bytes"):
        load_run(5)


def test_load_policy_raises_the_same_errors():
    with pytest.raises(CheckpointError, match="empty"):
        load_policy(b"")


# ---------------------------------------------------------------------------------------------
# Run.checkpoints: the policies a viewer steps through
# ---------------------------------------------------------------------------------------------
def _linear(value: float) -> SoftmaxPolicy:
    """A linear policy whose parameters are all ``value`` (so a test can tell them apart)."""
    policy = make_policy("linear")
    return policy.with_params(np.full(policy.params.shape, value))


def test_checkpoints_are_the_snapshots_in_order_ending_with_the_final_policy():
    p0, p5, p9 = _linear(0.0), _linear(0.5), _linear(0.9)
    run = Run(policy=p9, snapshots=[(5, p5), (0, p0), (9, p9)], history={"iteration": np.arange(1.0, 10.0)})
    assert [(i, p.params[0]) for i, p in run.checkpoints()] == [(0, 0.0), (5, 0.5), (9, 0.9)]


def test_a_final_policy_past_the_last_snapshot_is_appended_at_the_last_iteration():
    run = Run(policy=_linear(1.0), snapshots=[(0, _linear(0.0)), (4, _linear(0.4))],
              history={"iteration": np.array([1.0, 2.0, np.nan, 7.0])})
    assert [(i, p.params[0]) for i, p in run.checkpoints()] == [(0, 0.0), (4, 0.4), (7, 1.0)]
    # a history that stops at the last snapshot: the final policy comes one update later
    short = Run(policy=_linear(1.0), snapshots=[(4, _linear(0.4))], history={"iteration": np.array([3.0, 4.0])})
    assert [i for i, _ in short.checkpoints()] == [4, 5]


def test_a_run_without_snapshots_or_history_has_one_checkpoint():
    final = _linear(0.3)
    assert Run(policy=final).checkpoints() == [(0, final)]
    assert Run(policy=final, history={"iteration": np.array([1.0, 2.0, 3.0])}).checkpoints() == [(3, final)]


# ---------------------------------------------------------------------------------------------
# Files that pass the format's checks but that no page could show (issue 12)
# ---------------------------------------------------------------------------------------------
def _other_task(kind: str, obs_dim: int, n_actions: int) -> bytes:
    """A well-formed file of a policy for another task (save_policy refuses to write one)."""
    policy = make_policy(kind, obs_dim=obs_dim, n_actions=n_actions, hidden=(8,), seed=0)
    cartpole = make_policy(kind, hidden=(8,), seed=0)
    return tampered(with_meta(policy_to_bytes(cartpole), policy=policy.spec), params=policy.params)


@pytest.mark.parametrize(
    "kind, obs_dim, n_actions, words",
    [
        ("linear", 5, 2, "takes 5 observations and chooses between 2 actions, but CartPole has 4 observations"),
        ("linear", 4, 3, "chooses between 3 actions, but CartPole has 4 observations .* and 2 actions"),
        ("linear", 4, 1, "chooses between 1 action, but CartPole"),
        ("mlp", 5, 2, "takes 5 observations"),
        ("mlp", 4, 3, "chooses between 3 actions"),
    ],
)
def test_a_policy_for_another_task_is_refused(kind, obs_dim, n_actions, words):
    with pytest.raises(CheckpointError, match=words):
        load_run(_other_task(kind, obs_dim, n_actions))
    with pytest.raises(ValueError, match="for another task"):
        policy_to_bytes(make_policy(kind, obs_dim=obs_dim, n_actions=n_actions, hidden=(8,)))


@pytest.mark.parametrize(
    "iterations, words",
    [
        (np.full(6, np.nan), "'iteration' is NaN in every row; it must give the update number of every row"),
        (np.array([1, 2, np.nan, 4, 5, 6.0]), "NaN in row 3 of 6"),
        (-np.arange(1.0, 7.0), "holds -1; update numbers are whole numbers from 0 to 10,000,000"),
        (np.arange(6) + 0.5, "holds 0.5"),
        (np.arange(6) + 1e18, r"holds 1e\+18"),
        (np.arange(6) + MAX_ITERATION - 2.0, "holds 10,000,001"),
    ],
)
def test_a_history_without_usable_update_numbers_is_refused(valid, iterations, words):
    with pytest.raises(CheckpointError, match=words):
        load_run(tampered(valid, **{"history.iteration": iterations}))


def test_an_all_nan_iteration_column_no_longer_breaks_checkpoints(valid):
    """The page-breaking case of the issue: no snapshots, so checkpoints() read the column."""
    bare = tampered(valid, drop=["snapshot_iterations", "snapshot_params"])
    with pytest.raises(CheckpointError, match="NaN in every row"):
        load_run(tampered(bare, **{"history.iteration": np.full(6, np.nan)}))
    run = load_run(bare)
    run.history["iteration"] = np.full(6, np.nan)  # a Run built in code: still a usable list
    assert [it for it, _ in run.checkpoints()] == [0]


def test_update_numbers_at_the_limits_load(valid):
    bare = tampered(valid, drop=["snapshot_iterations", "snapshot_params"])
    run = load_run(tampered(bare, **{"history.iteration": np.arange(6.0) + MAX_ITERATION - 5}))
    assert run.checkpoints()[-1][0] == MAX_ITERATION
    run = load_run(tampered(valid, snapshot_iterations=np.array([0, 5, MAX_ITERATION])))
    assert [it for it, _ in run.snapshots] == [0, 5, MAX_ITERATION]


@pytest.mark.parametrize(
    "iterations, words",
    [
        (np.array([1, 3, 2**62]), "snapshot_iterations holds 4611686018427387904; update numbers are whole numbers"),
        (np.array([1, 3, 2**64 - 1], dtype=np.uint64), "holds 18446744073709551615"),
        (np.array([1, 3, 3]), "lists update 3 more than once; a run keeps one snapshot per update"),
    ],
)
def test_snapshot_iterations_out_of_range_or_repeated_are_refused(valid, iterations, words):
    with pytest.raises(CheckpointError, match=words):
        load_run(tampered(valid, snapshot_iterations=iterations))


def test_too_many_snapshots_are_refused(valid):
    n = MAX_SNAPSHOTS + 1
    data = tampered(valid, snapshot_iterations=np.arange(n), snapshot_params=np.zeros((n, 10)))
    with pytest.raises(CheckpointError, match="10,001 snapshots, more than the 10,000"):
        load_run(data)


@pytest.mark.parametrize("member", ["params", "snapshot_params"])
def test_parameters_beyond_what_training_reaches_are_refused(valid, member):
    values = arrays_of(valid)[member] * 0 + 1e300
    with pytest.raises(CheckpointError, match=rf"{member} holds a value of size 1e\+300, beyond the 1e\+12"):
        load_run(tampered(valid, **{member: values}))
    with pytest.raises(ValueError, match="beyond the 1e"):
        policy_to_bytes(make_policy("linear").with_params(np.full(10, 1e13)))


def test_large_but_reachable_parameters_load(valid):
    params = arrays_of(valid)["params"] * 0 + MAX_PARAM_MAGNITUDE
    assert load_run(tampered(valid, params=params)).policy.params.max() == MAX_PARAM_MAGNITUDE


def test_a_config_of_an_unknown_or_another_policy_is_refused(valid):
    config = json.loads(str(arrays_of(valid)["meta"]))["config"]
    with pytest.raises(CheckpointError, match="config is invalid: policy must be one of linear, mlp; got 'cnn'"):
        load_run(with_meta(valid, config={**config, "policy": "cnn"}))
    with pytest.raises(CheckpointError, match=r"config trains an MLP policy with hidden layers \[32\], but the file "
                                              "holds a linear policy"):
        load_run(with_meta(valid, config={**config, "policy": "mlp", "hidden": [32]}))
    mlp = trained_policy("mlp", hidden=(8,))
    with pytest.raises(CheckpointError, match=r"hidden layers \[16\], but the file holds an MLP policy with hidden "
                                              r"layers \[8\]"):
        load_run(with_meta(policy_to_bytes(mlp, config=TrainConfig(policy="mlp", hidden=(8,))),
                           config=TrainConfig(policy="mlp", hidden=(16,)).to_dict()))
    with pytest.raises(ValueError, match="config trains an MLP policy"):
        policy_to_bytes(make_policy("linear"), config=TrainConfig(policy="mlp"))


def test_hostile_but_harmless_files_load():
    """What the pages can show is kept: NaN returns (no evaluation), no history, no snapshots."""
    policy = trained_policy("linear")
    kwargs = full_run_kwargs(policy)
    kwargs["history"]["mean_return"][:] = np.nan
    assert np.isnan(load_run(policy_to_bytes(policy, **kwargs)).history["mean_return"]).all()
    assert load_run(policy_to_bytes(policy, history={name: [] for name in HISTORY_FIELDS})).checkpoints()[0][0] == 0
