"""Rig presets: which joint of a BVH rig (Daz, MotionBuilder, CMU ASF, Bandai, ReActIdle) is which Human3.6M joint."""
from __future__ import annotations


import numpy as np

from ..skeleton import H36M_JOINT_NAMES


#: A mapping gives, for each Human3.6M joint name, a rig joint name, a list of names (their mean),
#: or a dict ``{name: weight}`` (a weighted sum; weights should sum to 1, negative weights
#: extrapolate). End sites are named ``<parent>_end``.
MAPPING_PRESETS: dict[str, dict] = {
    # Daz-friendly CMU conversions (centimetres). The rig has no head-top joint: it is extrapolated
    # along the neck→head direction (about 8 cm above the eyes); the nose is halfway between the
    # head joint and the eyes.
    "daz": {
        "pelvis": "hip", "r_hip": "rThigh", "r_knee": "rShin", "r_ankle": "rFoot",
        "l_hip": "lThigh", "l_knee": "lShin", "l_ankle": "lFoot",
        "spine": ["abdomen", "chest"], "thorax": "neck",
        "neck": {"head": 0.5, "leftEye": 0.25, "rightEye": 0.25},
        "head": {"neck": -2.2, "head": 3.2},
        "l_shoulder": "lShldr", "l_elbow": "lForeArm", "l_wrist": "lHand",
        "r_shoulder": "rShldr", "r_elbow": "rForeArm", "r_wrist": "rHand",
    },
    # MotionBuilder-style CMU conversions (CMU units). "Head" is the base of the head bone (its end
    # site has zero length), so the head top is extrapolated one upper-neck length above it; the
    # nose is halfway up the upper neck → head segment.
    "motionbuilder": {
        "pelvis": "Hips", "r_hip": "RightUpLeg", "r_knee": "RightLeg", "r_ankle": "RightFoot",
        "l_hip": "LeftUpLeg", "l_knee": "LeftLeg", "l_ankle": "LeftFoot",
        "spine": "Spine", "thorax": "Spine1", "neck": {"Neck1": 0.5, "Head": 0.5},
        "head": {"Head": 2.0, "Neck1": -1.0},
        "l_shoulder": "LeftArm", "l_elbow": "LeftForeArm", "l_wrist": "LeftHand",
        "r_shoulder": "RightArm", "r_elbow": "RightForeArm", "r_wrist": "RightHand",
    },
    # Bandai Namco Research Motion Datasets 1 and 2 (centimetres). "Neck" is the base of the neck and
    # "Head" the base of the head (its end site has zero length), 6.5 cm above it: the nose and the head
    # top are placed along that direction at the Human3.6M distances above the thorax (121 and 236 mm).
    "bandai": {
        "pelvis": "Hips", "r_hip": "UpperLeg_R", "r_knee": "LowerLeg_R", "r_ankle": "Foot_R",
        "l_hip": "UpperLeg_L", "l_knee": "LowerLeg_L", "l_ankle": "Foot_L",
        "spine": "Spine", "thorax": "Neck",
        "neck": {"Neck": -0.87, "Head": 1.87}, "head": {"Neck": -2.65, "Head": 3.65},
        "l_shoulder": "UpperArm_L", "l_elbow": "LowerArm_L", "l_wrist": "Hand_L",
        "r_shoulder": "UpperArm_R", "r_elbow": "LowerArm_R", "r_wrist": "Hand_R",
    },
    # ReActIdle (metres). No hand joints: the wrists are the forearms' end sites. "face" sits 17.6 cm
    # above the neck base; nose and head top along neck -> face at the Human3.6M distances.
    "reactidle": {
        "pelvis": "pelvis", "r_hip": "thigh.R", "r_knee": "shin.R", "r_ankle": "foot.R",
        "l_hip": "thigh.L", "l_knee": "shin.L", "l_ankle": "foot.L",
        "spine": "spine.001", "thorax": "neck",
        "neck": {"neck": 0.31, "face": 0.69}, "head": {"neck": -0.34, "face": 1.34},
        "l_shoulder": "upper_arm.L", "l_elbow": "forearm.L", "l_wrist": "forearm.L_end",
        "r_shoulder": "upper_arm.R", "r_elbow": "forearm.R", "r_wrist": "forearm.R_end",
    },
    # CMU's native ASF names (lower case; e.g. the 16_xx clips of the Daz folder).
    "asf": {
        "pelvis": "hip", "r_hip": "rfemur", "r_knee": "rtibia", "r_ankle": "rfoot",
        "l_hip": "lfemur", "l_knee": "ltibia", "l_ankle": "lfoot",
        "spine": "upperback", "thorax": "thorax", "neck": {"upperneck": 0.5, "head": 0.5},
        "head": "head_end",
        "l_shoulder": "lhumerus", "l_elbow": "lradius", "l_wrist": "lwrist",
        "r_shoulder": "rhumerus", "r_elbow": "rradius", "r_wrist": "rwrist",
    },
}


def _mapping_joint_names(mapping: dict) -> set[str]:
    names = set()
    for spec in mapping.values():
        names.update([spec] if isinstance(spec, str) else spec)
    return names


def detect_preset(names) -> str:
    """The preset whose joint names all appear in ``names``; ``ValueError`` if none fits."""
    names = set(names)
    missing = {preset: sorted(_mapping_joint_names(mapping) - names) for preset, mapping in MAPPING_PRESETS.items()}
    for preset, lacking in missing.items():
        if not lacking:
            return preset
    closest = min(missing, key=lambda p: len(missing[p]))
    raise ValueError(
        f"no mapping preset fits this rig: the closest, {closest!r}, needs joints it lacks: "
        f"{', '.join(missing[closest])} (presets: {', '.join(MAPPING_PRESETS)}); pass a mapping "
        "{h36m_joint: rig_joint} for the joints " + ", ".join(H36M_JOINT_NAMES))


def mapping_matrix(mapping: dict, names: list[str], source: str = "BVH") -> np.ndarray:
    """``[17, J]`` weights so that ``h36m = W @ rig_positions``.

    ``mapping``: see :data:`MAPPING_PRESETS`. ``ValueError`` lists missing Human3.6M joints and
    rig joints not found in ``names`` (``source`` names the file in the message).
    """
    missing_h36m = [j for j in H36M_JOINT_NAMES if j not in mapping]
    if missing_h36m:
        raise ValueError(f"{source}: the joint mapping lacks Human3.6M joints {missing_h36m}")
    missing = sorted(n for n in _mapping_joint_names(mapping) if n not in names)
    if missing:
        raise ValueError(f"{source}: mapped joints {missing} are not in the skeleton; it has {names}")
    weights = np.zeros((len(H36M_JOINT_NAMES), len(names)))
    for j, joint in enumerate(H36M_JOINT_NAMES):
        spec = mapping[joint]
        if isinstance(spec, str):
            spec = {spec: 1.0}
        elif not isinstance(spec, dict):
            spec = {n: 1.0 / len(spec) for n in spec}
        for name, w in spec.items():
            weights[j, names.index(name)] += w
    return weights
