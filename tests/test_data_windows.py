import numpy as np
import pytest
import torch

from h2ot.data.sequences import Sequence
from h2ot.data.skeleton import flip_pose
from h2ot.data.windows import PoseWindows


def seq(length, channels=2, name="a", valid=None):
    rng = np.random.default_rng(length)
    kp = rng.normal(size=(length, 17, channels)).astype(np.float32)
    pos = rng.normal(size=(length, 17, 3)).astype(np.float32)
    kp[:, 0, 0] = np.arange(length)  # frame index readable from the input
    return Sequence("S1", name, "0", kp, pos, valid)


def test_seq2seq_test_windows_pad_and_flag():
    ds = PoseWindows([seq(10), seq(4)], frames=4)
    assert len(ds) == 3 + 1
    last = ds[2]
    assert last["input"].shape == (4, 17, 2) and last["target"].shape == (4, 17, 3)
    assert last["frame"].tolist() == [8, 9, 9, 9]
    assert last["padded"].tolist() == [False, False, True, True]
    assert last["mask"].tolist() == [True, True, False, False]
    assert last["input"][:, 0, 0].tolist() == [8, 9, 9, 9]
    assert torch.all(last["target"][:, 0] == 0)  # root zeroed
    with_pad = PoseWindows([seq(10)], frames=4, include_padded_in_mask=True)
    assert with_pad[2]["mask"].tolist() == [True] * 4
    short = ds[3]  # a sequence as long as the window fills it
    assert short["padded"].tolist() == [False] * 4


def test_short_test_sequence_sits_in_the_middle_as_the_lifter_runs_it():
    from h2ot.infer.lifting import windows
    ds = PoseWindows([seq(3), seq(4)], frames=8)
    assert len(ds) == 2
    short = ds[0]
    assert short["frame"].tolist() == [0, 0, 0, 1, 2, 2, 2, 2]   # 2 frames before, 3 after (odd split: after)
    assert short["padded"].tolist() == [True, True, False, False, False, True, True, True]
    assert short["mask"].tolist() == (~short["padded"]).tolist()
    assert short["input"][:, 0, 0].tolist() == [0, 0, 0, 1, 2, 2, 2, 2]
    assert ds[1]["frame"].tolist() == [0, 0, 0, 1, 2, 3, 3, 3]
    for length, item in ((3, short), (4, ds[1])):
        index, out, positions, _ = next(windows(length, 8))
        assert index.tolist() == item["frame"].tolist()
        assert positions.tolist() == np.flatnonzero(~item["padded"].numpy()).tolist()


def test_seq2seq_train_stride_and_short_sequence():
    ds = PoseWindows([seq(10)], frames=4, train=True, stride=3)
    assert [int(s) for _, s in ds.index] == [0, 3, 6]
    ds = PoseWindows([seq(11)], frames=4, train=True, stride=3)
    assert [int(s) for _, s in ds.index] == [0, 3, 6, 7]
    with pytest.raises(ValueError, match=r"S1/short/0 has 3 frames, shorter than a 4-frame window"):
        PoseWindows([seq(3, name="short")], frames=4, train=True)
    assert len(PoseWindows([seq(3)], frames=4, train=True, pad_short=True)) == 1


def test_seq2frame_centred_windows():
    ds = PoseWindows([seq(6)], frames=5, pipeline="seq2frame")
    assert len(ds) == 6
    first = ds[0]
    assert first["input"][:, 0, 0].tolist() == [0, 0, 0, 1, 2]
    assert first["target"].shape == (1, 17, 3) and first["frame"].tolist() == [0]
    assert first["padded"].tolist() == [False]
    assert ds[5]["input"][:, 0, 0].tolist() == [3, 4, 5, 5, 5]


def test_flip_and_channels_and_valid():
    s = seq(8, channels=2, valid=np.arange(8) % 2 == 0)
    ds = PoseWindows([s], frames=4, in_channels=3)
    item = ds.window(0, flip=True)
    plain = ds.window(0)
    assert torch.all(item["input"][..., 2] == 1.0)
    assert torch.allclose(item["input"], flip_pose(plain["input"]))
    assert torch.allclose(item["target"], flip_pose(plain["target"]))
    assert plain["mask"].tolist() == [True, False, True, False]
    aug = PoseWindows([s], frames=4, train=True, flip_augment=True)
    torch.manual_seed(0)
    flips = {bool(aug[0]["flipped"]) for _ in range(20)}
    assert flips == {True, False}
    with pytest.raises(ValueError, match="pipeline"):
        PoseWindows([s], frames=4, pipeline="frame2seq")


def test_windows_do_not_copy_sequences():
    s = seq(1000)
    ds = PoseWindows([s], frames=27, pipeline="seq2frame")
    assert ds.sequences[0].keypoints is s.keypoints
    assert ds.index.nbytes == 1000 * 2 * 8
