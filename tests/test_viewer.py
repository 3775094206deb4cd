"""``poses3d.html`` (``h2ot.infer.viewer``, ``h2ot view``): the page is self-contained, and a real browser
(Debian's headless Chromium, installed by ``.ci/run``) reads back what the page decoded and shows: the frame
count and one frame's joints compared with ``poses3d.npz``, the skeleton's colours on a screenshot where
the page projects its joints, a clear message for a damaged page, and the video beside it when it matches.

The browser tests skip when no Chromium is installed; each opens a small page in about a second.
"""
from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from h2ot.data.skeleton import H36M_BONES, H36M_LEFT, H36M_RIGHT
from h2ot.infer.viewer import STEP_2D, STEP_3D, VIEWER_FILE, quantize, view_folder, write_viewer

CHROMIUM = next((path for path in (shutil.which(name) for name in ("chromium", "chromium-browser"))
                 if path), None)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install "
                                                                "chromium; .ci/run does it)")
FRAMES, FPS, IMAGE = 90, 30.0, (640, 360)
WINDOW = (1000, 600)


def rig_sequence(frames: int = FRAMES) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A person facing the camera with arms spread, the left arm waving: poses3d [T, 17, 3] (m, camera
    axes, root-relative), keypoints2d [T, 17, 3] (px), detected [T] (frames 30..44 not)."""
    base = np.array([[0, 0, 0], [-0.13, 0, 0], [-0.15, 0.45, 0.02], [-0.15, 0.88, 0.05], [0.13, 0, 0],
                     [0.15, 0.45, 0.02], [0.15, 0.88, 0.05], [0, -0.23, 0], [0, -0.48, 0], [0, -0.6, -0.06],
                     [0, -0.72, 0], [0.17, -0.45, 0], [0.42, -0.40, 0], [0.66, -0.35, 0], [-0.17, -0.45, 0],
                     [-0.42, -0.40, 0], [-0.66, -0.35, 0]])
    t = np.arange(frames) / FPS
    poses = np.repeat(base[None], frames, axis=0)
    poses[:, [12, 13], 1] += np.array([0.1, 0.3]) * np.sin(2 * t)[:, None]
    poses += np.random.default_rng(0).normal(0, 0.003, poses.shape)
    poses -= poses[:, :1]
    keypoints = np.ones((frames, 17, 3))
    keypoints[..., :2] = np.array([300.0, 170.0]) + 900 * poses[..., :2] / (4 + poses[..., 2:])
    detected = np.ones(frames, dtype=bool)
    detected[30:45] = False
    return poses.astype(np.float32), keypoints.astype(np.float32), detected


def write_result(folder: Path, frames: int = FRAMES) -> Path:
    """An output folder as ``h2ot demo`` writes it (the npz files the viewer reads)."""
    poses, keypoints, detected = rig_sequence(frames)
    folder.mkdir(parents=True, exist_ok=True)
    common = dict(fps=np.float64(FPS), image_size=np.array(IMAGE), detected=detected)
    np.savez(folder / "poses3d.npz", poses3d=poses, model=np.array("a test rig"), **common)
    np.savez(folder / "keypoints2d.npz", keypoints=keypoints, **common)
    return folder


def browser(url: str, tmp_path: Path, *args: str, budget_ms: int | None = None, window=WINDOW) -> str:
    """Open ``url`` in headless Chromium (SwiftShader WebGL) with ``args`` in a ``window`` (width, height);
    return its stdout."""
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--use-angle=swiftshader",
               "--enable-unsafe-swiftshader", "--hide-scrollbars", "--mute-audio", "--no-first-run",
               "--disable-extensions", "--force-device-scale-factor=1", f"--user-data-dir={tmp_path / 'profile'}",
               f"--window-size={window[0]},{window[1]}", *args]
    if budget_ms is not None:
        command.append(f"--virtual-time-budget={budget_ms}")
    done = subprocess.run([*command, url], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def readback(page: Path, tmp_path: Path, query: str = "", *args: str,
             budget_ms: int | None = None) -> tuple[dict, str]:
    """The page's #h2ot-readback JSON and its DOM after loading (Chromium options ``args``)."""
    dom = browser(page.resolve().as_uri() + query, tmp_path, *args, "--dump-dom", budget_ms=budget_ms)
    found = re.search(r'<pre id="h2ot-readback"[^>]*>(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    return json.loads(html.unescape(found.group(1))), dom


# ----------------------------------------------------------------------------------------------
# The page file
# ----------------------------------------------------------------------------------------------

def test_quantize_keeps_half_a_step_and_marks_missing_values():
    values = np.array([0.0, 1.23456, -2.5, np.nan, np.inf, 3.2])
    q, step = quantize(values, STEP_3D)
    assert q.dtype == np.dtype("<i2") and step == STEP_3D
    finite = np.isfinite(values)
    assert np.abs(q[finite] * step - values[finite]).max() <= step / 2 + 1e-12
    assert (q[~finite] == -32768).all()
    q, step = quantize(np.array([5000.0, -7000.5]), STEP_2D)  # beyond ±2048 px: a coarser step
    assert step == 4 * STEP_2D and np.abs(q * step - [5000.0, -7000.5]).max() <= step / 2


def test_page_is_self_contained(tmp_path):
    poses, keypoints, detected = rig_sequence()
    page = write_viewer(tmp_path / VIEWER_FILE, poses, keypoints, detected, FPS, IMAGE, video="demo.mp4",
                        source="clip.mp4", model="m")
    text = page.read_text()
    assert not re.search(r"<(script|img|link|iframe)[^>]*\s(src|href)=", text)  # nothing fetched but the video
    assert "https://cdn" not in text and "unpkg" not in text and "jsdelivr" not in text
    assert 'type="importmap"' in text and "data:text/javascript;base64," in text
    assert "Copyright © 2010-2024 three.js authors" in text  # the vendored library's licence travels along
    meta = json.loads(re.search(r'<script type="application/json" id="h2ot-meta">(.*?)</script>', text).group(1))
    assert meta["num_frames"] == FRAMES and meta["video"] == "demo.mp4" and meta["num_detected"] == 75
    assert meta["blocks"]["poses3d"]["bytes"] == FRAMES * 17 * 3 * 2
    assert page.stat().st_size < 1_200_000  # three.js (~0.95 MB as base64) + 90 frames
    assets = Path(__file__).resolve().parents[1] / "h2ot" / "assets" / "viewer" / "three"
    assert "MIT License" in (assets / "LICENSE").read_text()


def test_view_command_and_its_errors(tmp_path, capsys):
    from h2ot import cli

    folder = write_result(tmp_path / "result")
    assert cli.main(["view", str(folder)]) == 0
    assert "poses3d.html" in capsys.readouterr().out and (folder / VIEWER_FILE).is_file()
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match="nowhere: no such folder"):
        view_folder(missing)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"empty/poses3d\.npz: not found"):
        view_folder(tmp_path / "empty")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "poses3d.npz").write_bytes(b"PK\x03\x04 not really a zip file")
    with pytest.raises(ValueError, match=r"bad/poses3d\.npz: cannot read it as an npz file"):
        view_folder(bad)
    np.savez(bad / "poses3d.npz", something=np.zeros(3))
    with pytest.raises(ValueError, match=r"poses3d\.npz: not an h2ot result file: no poses3d, fps"):
        view_folder(bad)
    shutil.copy(folder / "poses3d.npz", bad / "poses3d.npz")
    (bad / "keypoints2d.npz").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"keypoints2d\.npz: cannot read"):
        view_folder(bad)
    for argv in (["view", str(missing)], ["view", str(bad)]):
        assert cli.main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("h2ot view: error: ") and len(err.strip().splitlines()) == 1


# ----------------------------------------------------------------------------------------------
# In a real browser
# ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def result(tmp_path_factory):
    folder = write_result(tmp_path_factory.mktemp("viewer") / "result")
    view_folder(folder)
    return folder


@needs_chromium
def test_browser_reads_back_the_poses_of_poses3d_npz(result, tmp_path):
    frame = 37  # one without a detection
    data, dom = readback(result / VIEWER_FILE, tmp_path, f"?frame={frame}")
    assert data["status"] == "ok", data
    assert 'id="h2ot-message" role="alert" hidden' in dom  # no message
    with np.load(result / "poses3d.npz") as npz, np.load(result / "keypoints2d.npz") as kp:
        poses, keypoints, detected = npz["poses3d"], kp["keypoints"], npz["detected"]
    assert data["num_frames"] == len(poses) == FRAMES and data["fps"] == FPS
    assert data["frame"] == frame and data["detected"] is bool(detected[frame]) is False
    assert data["num_detected"] == int(detected.sum())
    np.testing.assert_allclose(data["joints"], poses[frame], atol=STEP_3D / 2 + 1e-6)
    np.testing.assert_allclose(data["keypoints2d"], keypoints[frame, :, :2], atol=STEP_2D / 2 + 1e-6)
    # the skeleton drawn in the 3D scene is that frame's, turned to Y up (x, floor - y, -z)
    assert data["webgl"], "no WebGL in headless Chromium (SwiftShader)"
    scene = np.array(data["scene_joints"])
    expected = poses[frame] * np.array([1, -1, -1]) + np.array([0, data["floor_offset"], 0])
    np.testing.assert_allclose(scene, expected, atol=STEP_3D / 2 + 1e-5)
    assert abs(scene[[3, 6], 1].min() - 0.08) < 0.05  # feet just above the ground grid
    assert data["time"] == pytest.approx(frame / FPS, abs=1e-6)


@needs_chromium
def test_a_variable_frame_rate_keeps_its_times(tmp_path):
    poses, keypoints, detected = rig_sequence()
    times = np.concatenate([np.arange(30) / 10, 3 + np.arange(1, FRAMES - 29) / 30])  # 10 fps, then 30 fps
    page = write_viewer(tmp_path / VIEWER_FILE, poses, keypoints, detected, (FRAMES - 1) / times[-1], IMAGE,
                        times=times)
    data, _ = readback(page, tmp_path, "?frame=45")
    assert data["status"] == "ok" and data["time"] == pytest.approx(times[45], abs=1e-5)


@needs_chromium
def test_a_trajectory_moves_the_skeleton_and_the_view_follows(tmp_path):
    poses, keypoints, detected = rig_sequence()
    root = np.linspace([0.5, -0.2, 6.0], [2.5, -0.1, 3.0], FRAMES)  # walking towards the camera, to the right
    joints = poses + root[:, None]
    page = write_viewer(tmp_path / VIEWER_FILE, poses, keypoints, detected, FPS, IMAGE, joints_camera=joints)
    frame = 60
    data, dom = readback(page, tmp_path, f"?frame={frame}")
    assert data["status"] == "ok" and data["path"] is True and 'id="pathtoggle"' in dom
    moved = joints[frame] - root[0] * np.array([1, 0, 1])  # the first frame's pelvis above the origin
    expected = moved * np.array([1, -1, -1]) + np.array([0, data["floor_offset"], 0])
    np.testing.assert_allclose(data["scene_joints"], expected, atol=STEP_3D + 1e-5)
    assert abs(np.array(data["scene_joints"])[[3, 6], 1].min() - 0.08) < 0.05  # on the path's floor
    pinned, _ = readback(page, tmp_path, f"?frame={frame}&path=0")  # the switch off: root-relative, as before
    assert pinned["path"] is False
    np.testing.assert_allclose(pinned["scene_joints"], poses[frame] * np.array([1, -1, -1])
                               + np.array([0, pinned["floor_offset"], 0]), atol=STEP_3D / 2 + 1e-5)
    # the view follows the pelvis: it is drawn at the same place on screen either way
    np.testing.assert_allclose(data["screen_joints"][0], pinned["screen_joints"][0], atol=1.0)


def colour_class(pixels: np.ndarray) -> np.ndarray:
    """'r' / 'l' / 'c' / '' per RGB pixel: the bone colours of render.py (red right, blue left, yellow
    centre) under the viewer's lighting."""
    r, g, b = (pixels[..., k].astype(int) for k in range(3))
    out = np.full(pixels.shape[:-1], "", dtype="<U1")
    out[(r > g + 50) & (r > b + 50)] = "r"
    out[(b > r + 50) & (b > g + 15)] = "l"
    out[(r > b + 60) & (g > b + 40) & (abs(r - g) < 90)] = "c"
    return out


@needs_chromium
def test_screenshot_shows_the_skeleton_where_the_page_projects_it(result, tmp_path):
    Image = pytest.importorskip("PIL.Image", reason="Pillow is not installed")
    frame = 12
    data, _ = readback(result / VIEWER_FILE, tmp_path, f"?frame={frame}")
    # --dump-dom lays the page out in a viewport smaller than --window-size (the window's frame), while
    # --screenshot captures a viewport of --window-size: shoot with the viewport the read-back reports
    width, height = data["viewport"]
    shot = tmp_path / "shot.png"
    browser((result / VIEWER_FILE).resolve().as_uri() + f"?frame={frame}", tmp_path, f"--screenshot={shot}",
            window=(width, height))
    image = np.asarray(Image.open(shot).convert("RGB"))
    assert image.shape[:2] == (height, width)
    classes = colour_class(image)
    side = {j: "r" if j in H36M_RIGHT else "l" if j in H36M_LEFT else "c" for j in range(17)}
    for name, points in (("3D", data["screen_joints"]), ("2D", data["screen_keypoints2d"])):
        points = np.array(points)
        hits = 0
        for parent, child in H36M_BONES:  # the bone's colour around the middle of its projection
            x, y = np.round((points[parent] + points[child]) / 2).astype(int)
            patch = classes[max(0, y - 3):y + 4, max(0, x - 3):x + 4]
            hits += bool((patch == side[child]).any())
        assert hits >= 14, f"{name}: only {hits} of 16 bones drawn where the page projects them"
    # and the 3D skeleton is in the 3D pane: right of the 2D pane, inside the window
    xs = np.array(data["screen_joints"])[:, 0]
    assert (xs > 0.4 * width).all() and (xs < width).all()
    assert (classes[:, int(0.45 * width):] == "r").sum() > 300  # thick bones, not hairlines
    assert (classes[:, int(0.45 * width):] == "l").sum() > 300


@needs_chromium
@pytest.mark.parametrize("damage, expected", [
    ("missing", '"poses3d" data block is missing'),
    ("changed", '"poses3d" data block is damaged (checksum mismatch)'),
    ("truncated", '"poses3d" data block holds'),
    ("meta", '"meta" data block is not valid JSON'),
])
def test_damaged_page_shows_a_clear_message(result, tmp_path, damage, expected):
    text = (result / VIEWER_FILE).read_text()
    block = re.search(r'(<script type="application/octet-stream" id="h2ot-poses3d">)([^<]*)(</script>)', text)
    payload = block.group(2)
    if damage == "missing":
        text = text.replace(block.group(0), "")
    elif damage == "changed":  # still valid base64, other bytes
        middle = len(payload) // 2
        text = text.replace(payload, payload[:middle] + ("B" if payload[middle] != "B" else "C") + payload[middle + 1:])
    elif damage == "truncated":
        text = text.replace(payload, payload[: len(payload) // 2 // 4 * 4])
    else:
        text = text.replace('<script type="application/json" id="h2ot-meta">{', '<script type="application/json" '
                                                                                'id="h2ot-meta">{oops')
    page = tmp_path / "poses3d.html"
    page.write_text(text)
    data, dom = readback(page, tmp_path)
    assert data["status"] == "error" and expected in data["error"], data
    message = re.search(r'<div id="h2ot-message" role="alert"([^>]*)>(.*?)</div>', dom, re.S)
    assert "hidden" not in message.group(1) and "cannot show its 3D poses" in message.group(2)
    assert "h2ot view RESULT_DIR" in message.group(2)


@needs_chromium
def test_it_plays_on_opening_and_holds_a_requested_frame(result, tmp_path):
    def shown(query):
        _, dom = readback(result / VIEWER_FILE, tmp_path, query, budget_ms=1500)
        return int(re.search(r'<span id="frameinfo">frame (\d+) / 90', dom).group(1)) - 1

    assert shown("") > 1  # autoplay: the clock moved on
    assert shown("?frame=5") == 5  # paused where asked


@needs_chromium
def test_without_webgl_the_page_still_reads_back_and_says_why(result, tmp_path):
    data, dom = readback(result / VIEWER_FILE, tmp_path, "?frame=5", "--disable-webgl", "--disable-3d-apis")
    assert data["status"] == "ok" and data["webgl"] is False and data["num_frames"] == FRAMES
    assert re.search(r'<div id="note3d">WebGL is not available', dom)


@needs_chromium
def test_the_video_is_shown_only_when_it_matches(tmp_path):
    pytest.importorskip("av", reason='PyAV is not installed: pip install -e ".[video]"')
    from h2ot.infer.render import output_size
    from h2ot.infer.video import VideoWriter

    def folder_with_video(name, frames):
        folder = write_result(tmp_path / name)
        pw, ph, total = output_size(*IMAGE, 120)  # demo.mp4's layout: the video panel beside a square 3D one
        with VideoWriter(folder / "demo.mp4", FPS, total, ph) as writer:
            for _ in range(frames):
                writer.write(np.full((ph, total, 3), 60, dtype=np.uint8))
        view_folder(folder)
        return folder

    good = folder_with_video("good", FRAMES)
    data, _ = readback(good / VIEWER_FILE, tmp_path, "?frame=3", budget_ms=3000)
    assert data["status"] == "ok" and data["video"] is True
    other = folder_with_video("other", FRAMES // 2)  # another clip's demo.mp4: not shown
    data, _ = readback(other / VIEWER_FILE, tmp_path, "?frame=3", budget_ms=3000)
    assert data["status"] == "ok" and data["video"] is False
