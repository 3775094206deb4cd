import numpy as np
import pytest

from h2ot.data.h36m import H36M_32_TO_17, h36m_cameras
from h2ot.data.mocap import save_npz_atomic
from h2ot.data.sequences import MPI3DHP_TO_H36M, load_3dhp, load_vp3d


def make_h36m_files(tmp_path, frames=30, nan=False):
    """Tiny files with the exact VideoPose3D layout: 3D world metres with 32 joints, 2D pixels."""
    rng = np.random.default_rng(0)
    cams = h36m_cameras()
    pos3d, pos2d = {}, {}
    for subject in ("S1", "S9"):
        pos3d[subject], pos2d[subject] = {}, {}
        for action in ("Walking 1", "Directions"):
            world = rng.normal(scale=0.3, size=(frames + 3, 32, 3)) + [0, 0, 1.0]
            pos3d[subject][action] = world.astype(np.float32)
            views = []
            for cam in cams[subject]:
                views.append(cam.project(cam.world_to_camera(world[:frames, list(H36M_32_TO_17)]))
                             .astype(np.float32))
            pos2d[subject][action] = views
    if nan:
        pos2d["S9"]["Directions"][2][5, 3, 0] = np.nan
    meta = {"layout_name": "h36m", "num_joints": 17,
            "keypoints_symmetry": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]]}
    save_npz_atomic(tmp_path / "data_3d_h36m.npz", positions_3d=pos3d)
    save_npz_atomic(tmp_path / "data_2d_h36m_gt.npz", positions_2d=pos2d, metadata=meta)
    return tmp_path / "data_3d_h36m.npz", tmp_path / "data_2d_h36m_gt.npz"


def test_h36m_layout(tmp_path):
    p3, p2 = make_h36m_files(tmp_path)
    seqs = load_vp3d(p3, p2, subjects=["S9"])
    assert len(seqs) == 2 * 4
    s = seqs[0]
    assert s.subject == "S9" and s.group == s.action.split(" ")[0]
    assert s.keypoints.shape == (30, 17, 2) and s.positions.shape == (30, 17, 3)
    cam = [c for c in h36m_cameras()["S9"] if c.id == s.camera][0]
    # 2D is the normalised projection of the camera-frame 3D
    np.testing.assert_allclose(cam.normalize(cam.project(s.positions)), s.keypoints, atol=1e-4)
    assert np.abs(s.keypoints).max() < 1.2


def test_missing_keys_and_nan(tmp_path):
    p3, p2 = make_h36m_files(tmp_path, nan=True)
    with pytest.raises(ValueError, match=r"positions_2d\['S9'\]\['Directions'\]\[2\].*NaN"):
        load_vp3d(p3, p2)
    with pytest.raises(ValueError, match=r"missing key\(s\) \['positions_3d'\]"):
        load_vp3d(p2, p2)
    with pytest.raises(ValueError, match="no 'positions_2d' key"):
        load_vp3d(p3)
    with pytest.raises(FileNotFoundError, match="data file not found"):
        load_vp3d(tmp_path / "nope.npz")
    (tmp_path / "bad.npz").write_text("not a zip")
    with pytest.raises(ValueError, match="cannot read as an npz"):
        load_vp3d(tmp_path / "bad.npz")


def make_3dhp(tmp_path):
    rng = np.random.default_rng(1)
    cams = {str(c): {"data_2d": rng.uniform(0, 2048, (20, 17, 2)),
                     "data_3d": rng.normal(0, 500, (20, 17, 3))} for c in (0, 1)}
    train = {"S1 Seq1": [cams, 25]}
    test = {f"TS{i}": {"data_2d": rng.uniform(0, 1000, (15, 17, 2)),
                       "data_3d": rng.normal(0, 500, (15, 17, 3)) + [0, 0, 4000],
                       "valid": (np.arange(15) % 3 != 0).astype(np.float32)} for i in (1, 5)}
    save_npz_atomic(tmp_path / "data_train_3dhp.npz", data=train)
    save_npz_atomic(tmp_path / "data_test_3dhp.npz", data=test)
    return train, test


def test_3dhp_layout(tmp_path):
    train, test = make_3dhp(tmp_path)
    seqs = load_3dhp(tmp_path / "data_train_3dhp.npz")
    assert [(s.subject, s.action, s.camera) for s in seqs] == [("S1", "Seq1", "0"), ("S1", "Seq1", "1")]
    raw = train["S1 Seq1"][0]["0"]
    perm = list(MPI3DHP_TO_H36M)
    np.testing.assert_allclose(seqs[0].positions, raw["data_3d"][:, perm] / 1000, rtol=1e-6)
    np.testing.assert_allclose(seqs[0].keypoints, raw["data_2d"][:, perm] / 2048 * 2 - 1, atol=1e-5)
    assert seqs[0].positions[0, 0].tolist() == pytest.approx(raw["data_3d"][0, 14] / 1000)  # pelvis
    tests = load_3dhp(tmp_path / "data_test_3dhp.npz")
    assert [s.action for s in tests] == ["TS1", "TS5"]
    assert tests[0].valid.sum() == 10
    ts5 = test["TS5"]["data_2d"][:, perm]
    np.testing.assert_allclose(tests[1].keypoints, ts5 / 1920 * 2 - [1, 1080 / 1920], atol=1e-5)


def test_3dhp_bad_layouts(tmp_path):
    save_npz_atomic(tmp_path / "x.npz", data={"TS1": {"data_2d": np.zeros((4, 17, 2))}})
    with pytest.raises(ValueError, match=r"data\['TS1'\] lacks 'data_3d'"):
        load_3dhp(tmp_path / "x.npz")
    save_npz_atomic(tmp_path / "y.npz", positions=np.zeros(3))
    with pytest.raises(ValueError, match=r"missing key\(s\) \['data'\]"):
        load_3dhp(tmp_path / "y.npz")
