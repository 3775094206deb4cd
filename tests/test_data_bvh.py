from pathlib import Path

import numpy as np
import pytest

from h2ot.data.bvh import read_bvh
from h2ot.data.mocap import detect_units, is_tpose_frame, load_bvh_h36m

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CMU = SHARED / "cmu"
needs_cmu = pytest.mark.skipif(not (CMU / "daz" / "02_01.bvh").is_file(),
                               reason=f"CMU BVH data not found at {CMU} (see the README, 'Data and evaluation')")

TOY = """HIERARCHY
ROOT root
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT a
  {
    OFFSET 0 10 0
    CHANNELS 3 Yrotation Xrotation Zrotation
    End Site
    {
      OFFSET 0 5 0
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.5
1 2 3 0 0 0 0 0 0
0 0 0 90 0 0 0 90 0
"""


def write(tmp_path, text, name="toy.bvh"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_toy_forward_kinematics(tmp_path):
    bvh = read_bvh(write(tmp_path, TOY))
    assert bvh.names == ["root", "a", "a_end"]
    assert bvh.parents == [-1, 0, 1]
    assert bvh.fps == 2.0
    pos = bvh.forward_kinematics()
    np.testing.assert_allclose(pos[0], [[1, 2, 3], [1, 12, 3], [1, 17, 3]], atol=1e-12)
    # frame 1: root rotated 90 deg about z sends +y to -x; joint a's 90 deg about x sends +y to +z,
    # which the root's z rotation leaves unchanged
    np.testing.assert_allclose(pos[1], [[0, 0, 0], [-10, 0, 0], [-10, 0, 5]], atol=1e-12)
    rest = bvh.forward_kinematics(rest=True)
    np.testing.assert_allclose(rest[0, 2], [0, 15, 0])


def test_truncated_and_malformed_files(tmp_path):
    with pytest.raises(ValueError, match=r"truncated MOTION data.*2 frames x 9 channels = 18 values, found 16"):
        read_bvh(write(tmp_path, TOY[: TOY.rindex("90")], "trunc.bvh"))
    with pytest.raises(ValueError, match="no MOTION section"):
        read_bvh(write(tmp_path, TOY.split("MOTION")[0], "nomotion.bvh"))
    with pytest.raises(ValueError, match="unbalanced"):
        read_bvh(write(tmp_path, TOY.replace("}\n}\nMOTION", "}\nMOTION"), "brace.bvh"))
    with pytest.raises(ValueError, match="not a number"):
        read_bvh(write(tmp_path, TOY.replace("1 2 3", "1 x 3"), "nan.bvh"))
    with pytest.raises(FileNotFoundError, match="BVH file not found"):
        read_bvh(tmp_path / "missing.bvh")


def test_missing_joint_in_mapping(tmp_path):
    with pytest.raises(ValueError, match=r"toy.bvh.*no mapping preset fits"):
        load_bvh_h36m(write(tmp_path, TOY))
    mapping = {j: "a" for j in ("pelvis", "r_hip")}
    with pytest.raises(ValueError, match=r"lacks Human3.6M joints \['r_knee'"):
        load_bvh_h36m(write(tmp_path, TOY), mapping=mapping)
    from h2ot.data.skeleton import H36M_JOINT_NAMES
    mapping = {j: "a" for j in H36M_JOINT_NAMES}
    mapping["head"] = "nose_tip"
    with pytest.raises(ValueError, match=r"toy.bvh: mapped joints \['nose_tip'\] are not in the skeleton"):
        load_bvh_h36m(write(tmp_path, TOY), mapping=mapping)


def test_user_mapping_works(tmp_path):
    from h2ot.data.skeleton import H36M_JOINT_NAMES
    mapping = {j: "root" for j in H36M_JOINT_NAMES}
    mapping["head"] = {"a": 0.5, "a_end": 0.5}
    clip = load_bvh_h36m(write(tmp_path, TOY), mapping=mapping, units="cm", fps=2.0,
                         drop_tpose=False)
    assert clip.preset == "custom" and clip.positions.shape == (2, 17, 3)
    # head 12.5 cm above the root in BVH y → world z
    d = clip.positions[0, 10] - clip.positions[0, 0]
    np.testing.assert_allclose(d, [0, 0, 0.125], atol=1e-6)


@needs_cmu
def test_daz_clip():
    bvh = read_bvh(CMU / "daz" / "02_01.bvh")
    assert bvh.num_frames == 344 and round(bvh.fps) == 120
    assert detect_units(bvh) == "cm" and is_tpose_frame(bvh)
    clip = load_bvh_h36m(CMU / "daz" / "02_01.bvh")
    assert clip.preset == "daz" and clip.subject == "S02" and clip.dropped >= 1
    expected = int(np.floor((344 - clip.dropped - 1) / 120 * 50)) + 1
    assert clip.positions.shape == (expected, 17, 3)
    pelvis_height = np.median(clip.positions[:, 0, 2])
    assert 0.75 < pelvis_height < 1.0  # metres, Z up
    head_above = clip.positions[:, 10, 2] - clip.positions[:, 0, 2]
    assert np.all(head_above > 0.5)


@needs_cmu
def test_motionbuilder_clip():
    bvh = read_bvh(CMU / "motionbuilder" / "02_01.bvh")
    assert detect_units(bvh) == "cmu" and not is_tpose_frame(bvh)
    clip = load_bvh_h36m(CMU / "motionbuilder" / "02_01.bvh")
    assert clip.preset == "motionbuilder" and clip.dropped == 0
    thigh = np.linalg.norm(clip.positions[:, 2] - clip.positions[:, 1], axis=-1).mean()
    assert 0.35 < thigh < 0.48
