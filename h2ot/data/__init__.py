"""Data: skeletons and keypoint formats, cameras, BVH mocap conversion, views like real videos, Human3.6M,
MPI-INF-3DHP and HumanEva-I loaders, windowing for seq2seq / seq2frame. See docs/data.md, "Data and
evaluation"."""
from .camera import (Camera, camera_to_world, denormalize_screen, look_at, matrix_to_quaternion,
                     normalize_screen, project, quaternion_to_matrix, world_to_camera)
from .h36m import SUBJECTS_TEST, SUBJECTS_TRAIN, h36m_cameras
from .humaneva import load_humaneva
from .sequences import Sequence, load_3dhp, load_vp3d
from .skeleton import (H36M_FLIP_PERM, H36M_JOINT_NAMES, H36M_LEFT, H36M_PARENTS, H36M_RIGHT,
                       bone_lengths, convert_keypoints, derive_torso, flip_pose)
from .views import ViewRange, VirtualViewWindows, sample_view
from .windows import PoseWindows

__all__ = [
    "Camera", "camera_to_world", "denormalize_screen", "look_at", "matrix_to_quaternion",
    "normalize_screen", "project", "quaternion_to_matrix", "world_to_camera", "SUBJECTS_TEST",
    "SUBJECTS_TRAIN", "h36m_cameras", "Sequence", "load_3dhp", "load_vp3d", "H36M_FLIP_PERM",
    "H36M_JOINT_NAMES", "H36M_LEFT", "H36M_PARENTS", "H36M_RIGHT", "bone_lengths",
    "convert_keypoints", "derive_torso", "flip_pose", "PoseWindows", "load_humaneva", "ViewRange",
    "VirtualViewWindows", "sample_view",
]
