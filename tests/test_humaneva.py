"""HumanEva-I evaluation: the loader (joint layout, calibration, resampling), scoring on a joint
subset, the mean-pose baseline and ``h2ot eval`` on the HumanEva files.

The data tests skip when ``../shared/data/humaneva`` is absent (HumanEva-I is research-only and is
never copied into the project)."""
import json

import numpy as np
import pytest
import torch

from h2ot import evaluate as ev
from h2ot.cli import main
from h2ot.data import humaneva as he
from h2ot.data.camera import normalize_screen, quaternion_to_matrix
from h2ot.data.mocap import resample
from h2ot.data.sequences import Sequence, _load_npz
from h2ot.pretrained import load_checkpoint_model

from .helpers import SHARED_DATA, small_model

HE_DIR = SHARED_DATA / "humaneva"
PATH_3D, PATH_2D = HE_DIR / "data_3d_humaneva15.npz", HE_DIR / "data_2d_humaneva15_gt.npz"


@pytest.fixture(scope="module")
def raw():
    if not (PATH_3D.is_file() and PATH_2D.is_file()):
        pytest.skip(f"HumanEva-I files not found in {HE_DIR} (research-only data, not shipped)")
    return (_load_npz(PATH_3D, ("positions_3d",))["positions_3d"],
            _load_npz(PATH_2D, ("positions_2d",)))


def test_mapping_to_h36m_and_scored_joints():
    src = np.arange(15 * 3, dtype=float).reshape(15, 3)
    out = he.to_h36m(src)
    assert out.shape == (17, 3)
    named = {0: 0, 1: 11, 2: 12, 3: 13, 4: 8, 5: 9, 6: 10, 8: 1, 10: 14,
             11: 2, 12: 3, 13: 4, 14: 5, 15: 6, 16: 7}
    for h36m, hev in named.items():
        assert np.array_equal(out[h36m], src[hev]), h36m
    assert np.allclose(out[7], (src[0] + src[1]) / 2)   # spine = mid(pelvis, thorax)
    assert np.allclose(out[9], (src[1] + src[14]) / 2)  # neck/nose = mid(thorax, head)
    assert he.SCORED_JOINTS == tuple(sorted(named))
    with pytest.raises(ValueError, match=r"\[\.\.\., 15, C\]"):
        he.to_h36m(np.zeros((17, 3)))


def test_layout_matches_the_data(raw):
    positions_3d, data_2d = raw
    meta = data_2d["metadata"]
    assert meta["layout_name"] == "humaneva15" and meta["num_joints"] == 15
    left = [i for i, n in enumerate(he.HUMANEVA15_JOINTS) if n.startswith("l_")]
    right = [i for i, n in enumerate(he.HUMANEVA15_JOINTS) if n.startswith("r_")]
    assert [left, right] == [list(v) for v in meta["keypoints_symmetry"]]
    x = np.concatenate(list(positions_3d["Validate/S2"].values()))
    parents = he.HUMANEVA15_PARENTS
    bones = {j: np.linalg.norm(x[:, j] - x[:, parents[j]], axis=-1) for j in range(1, 15)}
    for j, length in bones.items():  # rigid bones: the parents are right
        assert length.std() < 0.025, (he.HUMANEVA15_JOINTS[j], length.std())
    assert 0.36 < bones[9].mean() < 0.46 and 0.34 < bones[10].mean() < 0.46  # thigh, shin
    assert 0.25 < bones[14].mean() < 0.35  # thorax -> head: the head top, not the neck
    assert x[:, 14, 2].mean() > x[:, 1, 2].mean() > x[:, 0, 2].mean() > x[:, 10, 2].mean()  # Z up
    # joints named l_ are on the subject's left while it moves forward (the walk and the jog)
    for action in ("Walking 1 chunk0", "Jog 1 chunk0"):
        p = positions_3d["Validate/S2"][action]
        v = np.gradient(p[:, 0], axis=0) * [1, 1, 0]
        to_left = np.cross([0.0, 0.0, 1.0], v)
        for l_joint, r_joint in ((8, 11), (2, 5)):
            side = np.sum((p[:, l_joint] - p[:, r_joint]) * to_left, axis=-1)
            assert np.mean(side > 0) > 0.95


def test_calibration_reproduces_the_2d(raw):
    """The published extrinsics (with the intrinsics fitted here) reproduce ``positions_2d``."""
    positions_3d, data_2d = raw
    cameras = he.humaneva_cameras()
    errors = []
    for key, actions in data_2d["positions_2d"].items():
        for action, views in actions.items():
            assert len(views) == 3
            for cam, pixels in zip(cameras[key.split("/")[1]], views):
                projected = he.project_points(cam.world_to_camera(positions_3d[key][action]), cam)
                errors.append(np.linalg.norm(projected - pixels, axis=-1).ravel())
    errors = np.concatenate(errors)
    assert errors.size > 100_000
    assert errors.mean() < 0.01 and errors.max() < 0.5  # pixels
    # the quaternions are unit and the camera centres are about 4 m from the capture area
    for cams in cameras.values():
        for cam in cams:
            r = quaternion_to_matrix(cam.orientation)
            assert np.allclose(r @ r.T, np.eye(3), atol=1e-5)
            assert 3.5 < np.linalg.norm(cam.translation[:2]) < 4.5


def test_loader_frames_resampling_and_frames(raw):
    positions_3d, data_2d = raw
    seqs60 = he.load_humaneva(PATH_3D, PATH_2D, fps=60.0)
    seqs50 = he.load_humaneva(PATH_3D, PATH_2D)  # 50 fps
    assert [s.name for s in seqs60] == [s.name for s in seqs50]
    assert {s.group for s in seqs50} == {"Walk", "Jog", "Box"}
    assert {s.camera for s in seqs50} == {"C1", "C2", "C3"}
    assert {s.subject for s in seqs50} == {"Validate/S1", "Validate/S2", "Validate/S3"}
    assert all(s.action.split()[0] in ("Walking", "Jog", "Box") for s in seqs50)
    assert all(s.joints == he.SCORED_JOINTS and s.fps == 50.0 for s in seqs50)
    for s60, s50 in zip(seqs60, seqs50):
        n = len(positions_3d[s60.subject][s60.action])
        assert len(s60) == n
        assert len(s50) == int(np.floor((n - 1) / 60 * 50 + 1e-9)) + 1
        assert np.allclose(s50.positions, resample(s60.positions, 60, 50), atol=1e-6)
    total60 = sum(len(s) for s in seqs60)
    assert total60 == 3 * sum(len(a) for k, acts in positions_3d.items() if k.startswith("Validate")
                              for name, a in acts.items() if name.split()[0] in ("Walking", "Jog", "Box"))
    # 60 fps: the file's own 2D (mapped, normalised) and the 3D in that camera's frame
    s = next(q for q in seqs60 if q.subject == "Validate/S1" and q.camera == "C2")
    cam = he.humaneva_cameras()["S1"][1]
    kp = data_2d["positions_2d"][s.subject][s.action][1]
    assert np.allclose(s.keypoints, normalize_screen(he.to_h36m(kp), 640, 480), atol=1e-6)
    world = positions_3d[s.subject][s.action]
    assert np.allclose(s.positions, he.to_h36m(cam.world_to_camera(world)), atol=1e-5)
    assert (s.positions[..., 2] > 2.0).all()  # in front of the camera, metres
    # filters
    only = he.load_humaneva(PATH_3D, PATH_2D, actions=("Jog",), cameras=["C1"], subjects=["S3"])
    assert {(q.subject, q.camera, q.group) for q in only} == {("Validate/S3", "C1", "Jog")}
    with pytest.raises(ValueError, match="no 'Validate' sequences"):
        he.load_humaneva(PATH_3D, PATH_2D, actions=("Swim",))


def _pose(rng, n):
    x = rng.normal(scale=0.3, size=(n, 17, 3))
    return x - x[:, :1]


def test_subset_scoring_equals_a_hand_computation():
    rng = np.random.default_rng(3)
    joints = (0, 1, 2, 3, 4, 5, 6, 8, 10, 11, 12, 13, 14, 15, 16)
    target = _pose(rng, 4)
    angle = 0.7
    rot = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    pred = 2.0 * target @ rot.T  # a similarity of the target on every joint ...
    pred[:, [7, 9]] += 1.0       # ... but for the two unscored ones, far off
    kp = np.zeros((4, 17, 2), np.float32)
    seqs = [Sequence("S", "A", "0", kp[:2], target[:2].astype(np.float32), joints=joints),
            Sequence("S", "B", "0", kp[2:], target[2:].astype(np.float32), joints=joints)]
    rows = {"pred": pred, "target": target, "seq": np.array([0, 0, 1, 1]),
            "frame": np.array([0, 1, 0, 1]), "padded": np.zeros(4, bool), "mask": np.ones(4, bool)}
    result = ev.score(rows, seqs, "mpjpe,p-mpjpe,n-mpjpe")
    # by hand: root-relative joint distances over the 15 scored joints only, in mm
    hand = np.array([[np.linalg.norm(pred[f, j] - target[f, j]) for j in joints]
                     for f in range(4)]).mean(axis=1) * 1000
    assert result["actions"]["A"]["mpjpe"] == pytest.approx(hand[:2].mean(), rel=1e-6)
    assert result["actions"]["B"]["mpjpe"] == pytest.approx(hand[2:].mean(), rel=1e-6)
    assert result["average"]["p-mpjpe"] == pytest.approx(0.0, abs=1e-6)  # exact similarity
    assert result["average"]["n-mpjpe"] > 1.0  # a scale does not undo the rotation
    assert result["joints"] == list(joints)
    # an explicit joints= gives the same; scoring all 17 sees the two bad joints
    plain = [Sequence(s.subject, s.action, "0", s.keypoints, s.positions) for s in seqs]
    explicit = ev.score(rows, plain, "mpjpe,p-mpjpe", joints=joints)
    assert explicit["average"] == pytest.approx({k: result["average"][k] for k in ("mpjpe", "p-mpjpe")})
    everything = ev.score(rows, plain, "mpjpe,p-mpjpe")
    assert "joints" not in everything
    assert everything["average"]["p-mpjpe"] > 10.0
    full = np.linalg.norm(pred - target, axis=-1).mean(axis=1) * 1000
    assert everything["average"]["mpjpe"] == pytest.approx(np.mean([full[:2].mean(), full[2:].mean()]))
    with pytest.raises(ValueError, match="root 0"):
        ev.score(rows, plain, "mpjpe", joints=(1, 2, 3))
    with pytest.raises(ValueError, match="root 0"):
        Sequence("S", "A", "0", kp[:2], target[:2].astype(np.float32), joints=(1, 2))
    mixed = [seqs[0], plain[1]]
    with pytest.raises(ValueError, match="different joint subsets"):
        ev.score(rows, mixed, "mpjpe")


def test_mean_pose_baseline_on_any_dataset():
    rng = np.random.default_rng(1)
    seqs = []
    for action, n in (("Walk", 5), ("Sit", 3)):
        pos = (_pose(rng, n) + [0, 0, 4.0]).astype(np.float32)
        seqs.append(Sequence("S9", action, "0", rng.normal(size=(n, 17, 2)).astype(np.float32), pos))
    rows = ev.baseline_rows(seqs)
    targets = np.concatenate([s.positions - s.positions[:, :1] for s in seqs])
    mean = targets.mean(axis=0)
    assert np.allclose(rows["pred"], mean, atol=1e-6) and rows["mask"].sum() == 8
    result = ev.evaluate_baseline(seqs, "mean-pose", "mpjpe")
    err = np.linalg.norm(targets - mean, axis=-1).mean(axis=1) * 1000
    assert result["actions"]["Walk"]["mpjpe"] == pytest.approx(err[:5].mean(), rel=1e-5)
    assert result["actions"]["Sit"]["mpjpe"] == pytest.approx(err[5:].mean(), rel=1e-5)
    assert result["pipeline"] == "baseline:mean-pose" and result["frames"] == 8
    with pytest.raises(ValueError, match="unknown baseline"):
        ev.baseline_rows(seqs, "zero")


def _args(*extra):
    return ["eval", "--data", str(PATH_3D), "--data-2d", str(PATH_2D), *extra]


def test_cli_baseline_on_humaneva(raw, capsys):
    assert main(_args("--baseline", "mean-pose", "--protocol", "mpjpe,p-mpjpe", "--json")) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["actions"]) == {"Walk", "Jog", "Box"}
    assert result["joints"] == list(he.SCORED_JOINTS)
    assert result["frames"] == sum(len(s) for s in he.load_humaneva(PATH_3D, PATH_2D))  # 50 fps
    assert 100 < result["average"]["mpjpe"] < 300 and 100 < result["average"]["p-mpjpe"] < 300
    assert main(_args("--baseline", "mean-pose", "--protocol", "mpjpe")) == 0
    out = capsys.readouterr().out
    assert "| Protocol | Box | Jog | Walk | Avg |" in out and "15 of 17 joints scored" in out


def test_train_split_is_a_separate_validation_set(raw, capsys):
    """``--split Train``: HumanEva-I's other half, the frames the Validate split does not have."""
    train = he.load_humaneva(PATH_3D, PATH_2D, split="Train")
    validate = he.load_humaneva(PATH_3D, PATH_2D)
    assert {s.subject for s in train} == {"Train/S1", "Train/S2", "Train/S3"}
    assert {s.group for s in train} == {"Walk", "Jog", "Box"}
    assert {s.subject for s in validate} == {"Validate/S1", "Validate/S2", "Validate/S3"}
    positions_3d = raw[0]  # the two splits share no mocap frame
    frames = {split: {np.round(f, 4).tobytes() for key, acts in positions_3d.items() if key.startswith(split)
                      for a in acts.values() for f in a} for split in ("Train", "Validate")}
    assert len(frames["Train"]) > 3000 and not frames["Train"] & frames["Validate"]
    assert main(_args("--baseline", "mean-pose", "--protocol", "mpjpe", "--json", "--split", "Train")) == 0
    assert json.loads(capsys.readouterr().out)["frames"] == sum(len(s) for s in he.load_humaneva(
        PATH_3D, PATH_2D, split="Train", fps=50.0))
    with pytest.raises(ValueError, match="expected one of Validate, Train"):
        he.load_humaneva(PATH_3D, PATH_2D, split="Test")


def test_a_split_is_refused_for_other_files(tmp_path):
    from h2ot.data.splits import load_test_sequences

    other = tmp_path / "test_3dhp.npz"  # MPI-INF-3DHP's layout: no splits to choose
    np.savez(other, data=np.zeros(1))
    with pytest.raises(ValueError, match="HumanEva-I only"):
        load_test_sequences(str(other), split="Train")


def test_cli_missing_file_exits_2_with_one_line(raw, tmp_path, capsys):
    missing = tmp_path / "nope.npz"
    for argv in (["eval", "--baseline", "mean-pose", "--data", str(PATH_3D), "--data-2d", str(missing)],
                 ["eval", "--checkpoint", str(missing), "--data", str(PATH_3D), "--data-2d", str(PATH_2D)],
                 ["eval", "--baseline", "mean-pose", "--data", str(missing)]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "nope.npz" in err and err.startswith("h2ot eval: error:")
    assert main(_args()) == 2  # neither a checkpoint nor a baseline
    assert "--baseline" in capsys.readouterr().err


def test_cli_model_runs_at_the_checkpoints_frame_rate(raw, tmp_path, capsys):
    model = small_model(frames=9, depth=2, dim=16, mlp_hidden=32)
    path = tmp_path / "tiny.pt"
    torch.save({"model_name": "mixste", "model_kwargs": model.model_kwargs,
                "state_dict": model.state_dict(), "fps": 25}, path)
    assert load_checkpoint_model(path).pretrained_info == {"fps": 25.0}
    assert main(_args("--checkpoint", str(path), "--subjects", "S3", "--no-flip", "--json",
                      "--protocol", "mpjpe,p-mpjpe")) == 0
    result = json.loads(capsys.readouterr().out)
    expected = he.load_humaneva(PATH_3D, PATH_2D, fps=25.0, subjects=["S3"])
    assert result["frames"] == sum(len(s) for s in expected)
    assert set(result["actions"]) == {"Walk", "Jog", "Box"} and result["joints"] == list(he.SCORED_JOINTS)


def test_eval_accepts_the_shipped_model():
    from h2ot.pretrained import model_fps
    from h2ot.pretrained import DEFAULT, WEIGHTS_DIR

    shipped = ev.load_eval_model("pretrained")
    assert model_fps(shipped) == 50.0 and shipped.pretrained_info["name"] == DEFAULT
    assert ev.load_eval_model("free").pretrained_info["name"] == "h2ot_mixste_free"
    by_path = load_checkpoint_model(WEIGHTS_DIR / "h2ot_mixste_cmu.pt")
    assert by_path.pretrained_info["name"] == "h2ot_mixste_cmu" and model_fps(by_path) == 50.0
