"""Motion capture (BVH) → Human3.6M-17 training data with virtual cameras (a package: ``rigs``, ``sources``,
``clip``, ``cameras``, ``noise``, ``bones``, ``build``; every name is importable from here).

Pipeline for one clip (:func:`load_bvh_h36m`):

1. read the BVH and run forward kinematics (:mod:`h2ot.data.bvh`);
2. drop the synthetic T-pose (frame 0 of the Hahne CMU conversions) and the few blend frames that
   follow it (:func:`leading_frames_to_drop`);
3. map the rig's joints to the 17 Human3.6M joints with a preset (Daz, MotionBuilder, CMU ASF, picked
   from the joint names) or a user mapping (:func:`mapping_matrix`);
4. convert units to metres (detected from the rest-pose size, :func:`detect_units`) and axes from
   BVH's Y-up to the Human3.6M world's Z-up: ``(x, y, z)_world = (x, -z, y)_bvh``;
5. resample to the target frame rate (linear interpolation of joint positions, default 50 fps).

Then virtual cameras (:func:`h36m_like_cameras`, :func:`random_cameras`) render the 2D keypoints,
optionally through a detector-like noise model (:func:`add_detector_noise`), and
:func:`build_mocap_dataset` writes the VideoPose3D npz layout (without pickles: :func:`save_npz_atomic`).
"""
from .bones import H36M_REFERENCE_MM, bone_stats, format_bone_stats, h36m_bone_lengths, retarget_clip
from .build import build_mocap_dataset, save_npz_atomic
from .cameras import (H36M_LIKE_INTRINSICS, H36M_LIKE_VIEWS, _camera_at, h36m_like_cameras, random_cameras,
                      render_2d)
from .clip import (UNITS, MocapClip, align_floor, detect_units, is_tpose_frame, leading_frames_to_drop, load_bvh_h36m,
                   resample)
from .noise import NOISE_MODELS, add_detector_noise, add_video_detector_noise
from .rigs import MAPPING_PRESETS, detect_preset, mapping_matrix
from .sources import (CMU_TEST_SUBJECTS, SOURCE_OF_PRESET, SOURCES, Source, bvh_files, clip_subjects,
                      folder_licence)

__all__ = ['NOISE_MODELS', 'add_detector_noise', 'add_video_detector_noise',
           'align_floor',
           'bone_stats',
           'build_mocap_dataset',
           'bvh_files',
           'clip_subjects',
           'CMU_TEST_SUBJECTS',
           'detect_preset',
           'detect_units',
           'folder_licence',
           'format_bone_stats',
           'h36m_bone_lengths',
           'h36m_like_cameras',
           'H36M_LIKE_INTRINSICS',
           'H36M_LIKE_VIEWS',
           'H36M_REFERENCE_MM',
           'is_tpose_frame',
           'leading_frames_to_drop',
           'load_bvh_h36m',
           'mapping_matrix',
           'MAPPING_PRESETS',
           'MocapClip',
           'random_cameras',
           'render_2d',
           'resample',
           'retarget_clip',
           'save_npz_atomic',
           'Source',
           'SOURCE_OF_PRESET',
           'SOURCES',
           'UNITS']
