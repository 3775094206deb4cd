"""Dataset npz files: ``save_npz_atomic`` writes no pickles, and every reader in ``h2ot.data`` reads both that
layout and VideoPose3D's pickled one without running code from the file (issue 14)."""
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from h2ot.data.mocap import save_npz_atomic
from h2ot.data.sequences import _load_npz, load_3dhp, load_vp3d, npz_metadata
from h2ot.data.views import load_world_clips
from tests.helpers import one_line_error

from .test_data_loaders import make_h36m_files
from tests.helpers import make_dataset

REAL = Path(__file__).resolve().parents[1] / "runs" / "data" / "cmu_h36mbones_test.npz"


def same(a, b, where="value"):
    """Deep equality of what the loaders return: same container types, keys in the same order, arrays with
    the same dtype, shape and values."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        assert isinstance(a, np.ndarray) and isinstance(b, np.ndarray), where
        assert a.dtype == b.dtype and a.shape == b.shape, (where, a.dtype, b.dtype, a.shape, b.shape)
        assert np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"), where
        return
    assert type(a) is type(b), (where, type(a), type(b))
    if isinstance(a, dict):
        assert list(a) == list(b), where
        for key in a:
            same(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{where}[{i}]")
    else:
        assert a == b or (a != a and b != b), (where, a, b)


def write_pickled(path, **arrays):
    """What ``save_npz_atomic`` wrote before: dicts as 0-d object arrays (VideoPose3D's layout)."""
    np.savez_compressed(path, **{k: (np.array(v, dtype=object) if isinstance(v, dict) else v)
                                 for k, v in arrays.items()})


def assert_no_pickles(path):
    with np.load(path, allow_pickle=False) as npz:
        assert npz.files
        for key in npz.files:
            assert npz[key].dtype != object, key


def assert_same_sequences(a, b):
    assert [s.name for s in a] == [s.name for s in b]
    for x, y in zip(a, b):
        assert np.array_equal(x.keypoints, y.keypoints) and np.array_equal(x.positions, y.positions)
        assert (x.group, x.fps, x.joints) == (y.group, y.fps, y.joints)


# ---------------------------------------------------------------------------------------- round trip

def test_mocap_dataset_is_written_without_pickles_and_reads_the_same(tmp_path):
    new = Path(make_dataset(tmp_path / "new.npz"))
    assert_no_pickles(new)
    content = _load_npz(new, ("positions_3d",))
    assert set(content) == {"positions_3d", "positions_2d", "metadata", "cameras"}
    old = tmp_path / "old.npz"
    write_pickled(old, **content)
    with np.load(old, allow_pickle=False) as npz, pytest.raises(ValueError):
        npz["positions_3d"]  # the old layout really is pickled
    same(_load_npz(old, ()), content)
    assert npz_metadata(new) == npz_metadata(old)
    assert npz_metadata(new)[1]["subjects_test"] == ["S9"]
    for subjects in (None, ["S9"]):
        assert_same_sequences(load_vp3d(new, subjects=subjects), load_vp3d(old, subjects=subjects))
    same(load_world_clips(new, ["S1", "S2"]), load_world_clips(old, ["S1", "S2"]))
    # member names a person can read: nested dicts flattened into paths, metadata and cameras as JSON
    with np.load(new, allow_pickle=False) as npz:
        assert "positions_3d/S1/a" in npz.files and "positions_2d/S9/b/1" in npz.files
        assert npz["metadata"].dtype.kind == "U" and '"subjects_test":["S9"]' in str(npz["metadata"])


def test_h36m_style_files_round_trip(tmp_path):
    p3, p2 = make_h36m_files(tmp_path)
    assert_no_pickles(p3), assert_no_pickles(p2)
    old3, old2 = tmp_path / "old3.npz", tmp_path / "old2.npz"
    write_pickled(old3, **_load_npz(p3, ()))
    write_pickled(old2, **_load_npz(p2, ()))
    assert_same_sequences(load_vp3d(p3, p2), load_vp3d(old3, old2))
    world = _load_npz(p3, ())["positions_3d"]["S1"]["Walking 1"]
    assert world.dtype == np.float32 and world.shape[1:] == (32, 3)  # reduced to 17 joints by the loader


def test_any_nesting_round_trips(tmp_path):
    value = {
        "plain": {"S1": {"Walking 1": np.arange(300, dtype=np.float32).reshape(100, 3)}},
        "odd keys": {0: np.zeros(3, np.int16), (1, "a"): [1, 2.5, None, True, "x"], "$x": 1, "a/b%c": {}},
        "tuple": (np.ones((2, 2), bool), np.float64(2.5), np.int64(-7), []),
        "small": np.array([1.5, np.nan, -np.inf]), "big": np.linspace(0, 1, 500).reshape(5, 100).T,
        "text": "fps: 50", "none": None,
    }
    save_npz_atomic(tmp_path / "x.npz", data=value, scalar=25.0, names=np.array(["a", "bc"]))
    assert_no_pickles(tmp_path / "x.npz")
    back = _load_npz(tmp_path / "x.npz", ("data",))
    expected = dict(value, tuple=(value["tuple"][0], 2.5, -7, []))  # numpy scalars come back as Python numbers
    same(back["data"], expected)
    assert back["scalar"] == 25.0 and back["names"].tolist() == ["a", "bc"]
    assert back["data"]["big"].flags.f_contiguous  # the memory order is kept


def test_3dhp_layout_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    train = {"S1 Seq1": [{0: {"data_2d": rng.uniform(0, 2048, (6, 17, 2)),
                              "data_3d": rng.normal(0, 500, (6, 17, 3))}}, 50.0]}
    test = {"TS1": {"data_2d": rng.uniform(0, 2048, (5, 17, 2)), "data_3d": rng.normal(0, 500, (5, 17, 3)),
                    "valid": np.array([1, 1, 0, 1, 1.0])}}
    for name, data in (("train", train), ("test", test)):
        new, old = tmp_path / f"{name}.npz", tmp_path / f"{name}_old.npz"
        save_npz_atomic(new, data=data)
        write_pickled(old, data=data)
        assert_no_pickles(new)
        same(_load_npz(new, ("data",)), _load_npz(old, ("data",)))
        assert_same_sequences(load_3dhp(new), load_3dhp(old))
    assert npz_metadata(tmp_path / "test.npz") == ({"data"}, {})


def test_members_read_back_can_be_written_again(tmp_path):
    """The members of a written file (``np.load`` without pickles) written again, with one key replaced."""
    data = Path(make_dataset(tmp_path / "tiny.npz"))
    with np.load(data, allow_pickle=False) as npz:
        members = {k: npz[k] for k in npz.files if k != "metadata"}
    save_npz_atomic(tmp_path / "copy.npz", **members, metadata={"fps": 25.0, "subjects_test": ["S2"]})
    original, copy = _load_npz(data, ()), _load_npz(tmp_path / "copy.npz", ())
    assert copy["metadata"] == {"fps": 25.0, "subjects_test": ["S2"]}
    for key in ("positions_3d", "positions_2d", "cameras"):
        same(copy[key], original[key], key)


@pytest.mark.skipif(not REAL.is_file(), reason=f"{REAL} not present (built by h2ot data mocap)")
def test_a_real_pickled_dataset_reads_and_rewrites_the_same(tmp_path):
    old = _load_npz(REAL, ("positions_3d",))
    assert isinstance(old["positions_2d"], dict) and isinstance(old["metadata"], dict)
    save_npz_atomic(tmp_path / "real.npz", **old)
    assert_no_pickles(tmp_path / "real.npz")
    same(_load_npz(tmp_path / "real.npz", ()), old)
    subjects = old["metadata"]["subjects_test"][:1]
    assert_same_sequences(load_vp3d(REAL, subjects=subjects), load_vp3d(tmp_path / "real.npz", subjects=subjects))


def test_writer_refuses_what_needs_a_pickle_and_leaves_nothing(tmp_path):
    with pytest.raises(ValueError, match="cannot be stored without pickles"):
        save_npz_atomic(tmp_path / "x.npz", data={"S1": np.array([object(), 1], dtype=object)})
    with pytest.raises(ValueError, match="a set cannot be stored without pickles"):
        save_npz_atomic(tmp_path / "x.npz", metadata={"subjects": {"S1", "S2"}})
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------- hostile files

MARKS = []


def mark(text):
    """What a crafted file would run: it only records that it ran."""
    MARKS.append(text)
    return text


class Crafted:
    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def crafted_file(path, key="positions_3d", payload=None, **extra):
    payload = Crafted(mark, "ran") if payload is None else payload
    np.savez(path, **{key: np.array({"S1": {"a": payload}}, dtype=object)}, **extra)
    return path


def test_a_crafted_pickle_runs_nothing_and_is_named(tmp_path):
    MARKS.clear()
    evil = crafted_file(tmp_path / "evil.npz")
    for call in (lambda: load_vp3d(evil), lambda: _load_npz(evil, ()), lambda: load_world_clips(evil, ["S1"])):
        one_line_error(call, str(evil), "refusing to load", f"asks for {__name__}.mark",
                       "only numpy arrays and plain dicts/lists are allowed")
    # only the metadata is read for the keys: a crafted metadata is refused there too
    evil_meta = crafted_file(tmp_path / "meta.npz", key="metadata", positions_3d=np.zeros((2, 17, 3)))
    one_line_error(lambda: npz_metadata(evil_meta), str(evil_meta), "refusing to load")
    assert MARKS == []

    marker = tmp_path / "pwned"
    system = crafted_file(tmp_path / "system.npz", payload=Crafted(os.system, f"touch {marker}"))
    message = one_line_error(lambda: load_vp3d(system), str(system), "refusing to load")
    assert f"{os.system.__module__}.system" in message  # posix.system
    builtins_eval = crafted_file(tmp_path / "eval.npz", payload=Crafted(eval, f"open({str(marker)!r}, 'w')"))
    one_line_error(lambda: load_vp3d(builtins_eval), "asks for builtins.eval")
    assert not marker.exists()


def test_data_bones_refuses_a_crafted_file(tmp_path, capsys):
    from h2ot.cli import main

    MARKS.clear()
    evil = crafted_file(tmp_path / "evil.npz")
    assert main(["data", "bones", "--data", str(evil)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "refusing to load" in err and str(evil) in err
    assert MARKS == []


def test_truncated_corrupt_and_non_zip_files(tmp_path):
    good = Path(make_dataset(tmp_path / "good.npz"))
    raw = good.read_bytes()
    cases = {
        "half.npz": raw[:len(raw) // 2],
        "random.npz": np.random.default_rng(0).bytes(2000),
        "empty.npz": b"",
        "text.npz": b"positions_3d,S1\n1,2,3\n",
    }
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
    # a zip whose member's header promises more data than it holds, and one whose member is not an array
    with zipfile.ZipFile(tmp_path / "short.npz", "w") as zf:
        zf.writestr("positions_3d.npy", np.lib.format.magic(1, 0) + b"\x76\x00" +
                    b"{'descr': '<f8', 'fortran_order': False, 'shape': (1000, 17, 3), }".ljust(117) + b"\n" +
                    bytes(800))
    with zipfile.ZipFile(tmp_path / "notnpy.npz", "w") as zf:
        zf.writestr("positions_3d.npy", b"hello")
    # a file in the new layout whose JSON points at a member that is not there
    with np.load(good, allow_pickle=False) as npz:
        members = {k: npz[k] for k in npz.files if k != "positions_3d/S1/a"}
    save_npz_atomic(tmp_path / "dangling.npz", **members)
    for name in (*cases, "short.npz", "notnpy.npz", "dangling.npz"):
        path = tmp_path / name
        for call in (lambda: load_vp3d(path), lambda: _load_npz(path, ("positions_3d",))):
            one_line_error(call, str(path))
    for name in cases:
        one_line_error(lambda: npz_metadata(tmp_path / name), str(tmp_path / name), "cannot read as an npz file")
    one_line_error(lambda: load_vp3d(tmp_path / "short.npz"), "truncated")
    one_line_error(lambda: load_vp3d(tmp_path / "dangling.npz"), "missing member 'positions_3d/S1/a'")
