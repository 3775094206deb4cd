"""The bad-input corpus: every command and the Python API, fed what a hostile or careless user would feed
them. Each command case asserts exit code 2, one line ``h2ot CMD: error: ...`` naming what was wrong, no
traceback, and an output folder left exactly as it was. The API cases assert a one-line ``ValueError``.
A property-based test (hypothesis) throws random arrays, shapes, dtypes and numbers at ``Lifter.predict``
and the model: they either work (finite poses of the right shape) or raise a one-line ``ValueError``.

``python -m pytest tests/test_hostile.py -q`` runs it; the "Bad input" table in docs/video.md counts its cases.
"""
from __future__ import annotations

import functools
import gzip
import json
import os
import pickle
import zipfile

import numpy as np
import pytest
import torch

import h2ot
from h2ot import cli
from tests.helpers import small_model

TINY = dict(frames=9, depth=2, dim=16, num_heads=2, mlp_hidden=32)


# ----------------------------------------------------------------------------------------------
# The corpus on disk: one folder of good and bad files, built once
# ----------------------------------------------------------------------------------------------

class Evil:
    """Unpickling this runs code: a file holding it must never be unpickled."""

    def __reduce__(self):
        return (os.system, ("touch /tmp/h2ot-hostile-was-here",))


def save_ckpt(path, model, **changes):
    ckpt = {"model_name": model.model_name, "model_kwargs": model.model_kwargs, "state_dict": model.state_dict()}
    ckpt.update(changes)
    torch.save(ckpt, path)
    return str(path)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from tests.helpers import make_dataset

    d = tmp_path_factory.mktemp("corpus")
    files: dict[str, str] = {}

    def write(name, data):
        path = d / name
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.write_bytes if isinstance(data, bytes) else path.write_text)(data)
        files[name] = str(path)
        return str(path)

    rng = np.random.default_rng(0)
    write("garbage.bin", rng.bytes(4096))
    write("empty.bin", b"")
    write("text.txt", "hello\n")
    files["dir"] = str(d)

    # checkpoints
    torch.manual_seed(0)
    model = h2ot.create_model("mixste", **TINY)
    files["ckpt"] = save_ckpt(d / "ok.pt", model)
    state = dict(model.state_dict())
    state.pop(next(iter(state)))
    files["ckpt_missing"] = save_ckpt(d / "missing.pt", model, state_dict=state)
    other = h2ot.create_model("mixste", **{**TINY, "dim": 24, "mlp_hidden": 48})
    files["ckpt_shapes"] = save_ckpt(d / "shapes.pt", model, state_dict=other.state_dict())
    files["ckpt_kwargs_list"] = save_ckpt(d / "kwargs_list.pt", model, model_kwargs=[1, 2])
    files["ckpt_unknown"] = save_ckpt(d / "unknown.pt", model, model_name="transformer9000")
    files["ckpt_bad_kwargs"] = save_ckpt(d / "bad_kwargs.pt", model, model_kwargs={"depth": "deep"})
    files["ckpt_state_list"] = save_ckpt(d / "state_list.pt", model, state_dict=[1, 2, 3])
    torch.save([1, 2, 3], d / "list.pt")
    files["ckpt_list"] = str(d / "list.pt")
    torch.save({"model_name": "mixste", "evil": Evil()}, d / "evil.pt")
    files["ckpt_evil"] = str(d / "evil.pt")
    raw = (d / "ok.pt").read_bytes()
    files["ckpt_truncated"] = write("truncated.pt", raw[: len(raw) // 2])

    # keypoint files
    T = 30
    people = rng.uniform(100, 400, (T, 17, 2))
    coco = [{"image_id": t, "keypoints": np.c_[people[t], np.ones(17)].ravel().tolist(), "score": 0.9}
            for t in range(T)]
    files["coco"] = write("coco.json", json.dumps(coco))
    write("coco_zeros.json", json.dumps([{"image_id": t, "keypoints": [0] * 51, "score": 0.9} for t in range(T)]))
    write("coco_bad_image.json", json.dumps({"images": [{"id": 1, "file_name": "a.jpg"}],
                                             "annotations": [{"image_id": 7, "keypoints": [1] * 51}]}))
    write("coco_short.json", json.dumps([{"image_id": 0, "keypoints": [1, 2, 3]}]))
    write("coco_strings.json", json.dumps([{"image_id": 0, "keypoints": ["a"] * 51}]))
    write("coco_dict.json", json.dumps({"hello": 1}))
    write("coco_number.json", "42")
    write("coco_broken.json", '[{"image_id": 0, "keypoints": [1, 2')
    write("coco_empty.json", "[]")
    write("openpose/000_keypoints.json", json.dumps({"people": {"pose_keypoints_2d": [1] * 75}}))
    write("openpose_nan/000_keypoints.json", json.dumps({"people": "many"}))
    np.save(d / "kp_wrong_shape.npy", rng.normal(size=(10, 5)))
    np.save(d / "kp_all_nan.npy", np.full((T, 17, 3), np.nan))
    np.save(d / "kp_two_frames.npy", rng.uniform(100, 200, (2, 17, 3)))
    np.save(d / "kp_strings.npy", np.array([["a"] * 3] * 17))
    np.save(d / "kp_ok.npy", np.c_[people.reshape(-1, 2), np.ones(T * 17)].reshape(T, 17, 3))
    np.save(d / "kp_object.npy", np.array([Evil()], dtype=object), allow_pickle=True)
    for name in ("kp_wrong_shape", "kp_all_nan", "kp_two_frames", "kp_strings", "kp_ok", "kp_object"):
        files[name] = str(d / f"{name}.npy")
    ok_npz = d / "kp_ok.npz"
    np.savez(ok_npz, keypoints=np.load(d / "kp_ok.npy"))
    files["kp_npz_truncated"] = write("kp_truncated.npz", ok_npz.read_bytes()[:300])

    # datasets
    files["data"] = make_dataset(d / "data.npz")
    files["data_truncated"] = write("data_truncated.npz", (d / "data.npz").read_bytes()[:500])
    np.savez(d / "data_no_3d.npz", something=np.zeros(3))
    files["data_no_3d"] = str(d / "data_no_3d.npz")
    np.savez(d / "data_3d_array.npz", positions_3d=np.zeros((5, 17, 3)))
    files["data_3d_array"] = str(d / "data_3d_array.npz")
    with zipfile.ZipFile(d / "data_evil.npz", "w") as z:  # a pickled object array that runs code
        with z.open("positions_3d.npy", "w") as fh:
            np.lib.format.write_array(fh, np.array(Evil(), dtype=object), allow_pickle=True)
    files["data_evil"] = str(d / "data_evil.npz")

    # training configs
    def config(name, text):
        return write(f"{name}.yaml", text)

    base = f"data:\n  train: [{files['data']}]\nmodel: {{name: mixste, frames: 9, depth: 2, dim: 16}}\n"
    config("cfg_bad_yaml", "model: {name: [\n")
    config("cfg_list", "- 1\n- 2\n")
    config("cfg_unknown_key", base + "wings: 3\n")
    config("cfg_unknown_field", base.replace("depth: 2", "depth: 2, wings: 3"))
    config("cfg_drop_path", base.replace("dim: 16", "dim: 16, drop_path_rate: 5"))
    config("cfg_lr_nan", base + "optim: {lr: .nan}\n")
    config("cfg_lr_negative", base + "optim: {lr: -1}\n")
    config("cfg_epochs_zero", base + "optim: {epochs: 0}\n")
    config("cfg_batch_text", base + "optim: {batch_size: many}\n")
    config("cfg_missing_data", "data:\n  train: [/nonexistent/data.npz]\n")
    config("cfg_no_data", "model: {name: mixste}\n")
    config("cfg_backbone", base.replace("name: mixste", "name: resnet"))
    config("cfg_variant", base.replace("name: mixste", "name: motionbert, variant: huge"))
    config("cfg_pruning", base.replace("dim: 16", "dim: 16, schedule: '1:3', pruning: magic"))
    config("cfg_heads", base.replace("dim: 16", "dim: 16, num_heads: 5"))

    # motion capture
    (d / "bvh_empty").mkdir()
    files["bvh_empty"] = str(d / "bvh_empty")
    write("bvh_garbage/a.bvh", "HIERARCHY\nROOT Hips\n{\n  OFFSET 0 0\n")
    write("bvh_gz/a.bvh.gz", b"not gzip at all")
    write("bvh_binary/a.bvh", rng.bytes(2000))
    gz = gzip.compress(b"HIERARCHY\nROOT Hips\n{\n OFFSET 0 0 0\n CHANNELS 3 Xposition Yposition Zposition\n"
                       b" End Site\n {\n OFFSET 0 1 0\n }\n}\nMOTION\nFrames: 2\nFrame Time: 0.01\n0 0 0\n0 0 0\n")
    write("bvh_unknown_rig/a.bvh.gz", gz)

    # videos
    write("fake.mp4", "this is not a video\n")
    write("garbage.mp4", rng.bytes(20000))
    files["results_empty"] = str(d / "bvh_empty")
    write("results_corrupt/poses3d.npz", b"PK\x03\x04 broken")
    return files


# ----------------------------------------------------------------------------------------------
# Command cases: (id, argv with {placeholders}, words the one-line message must contain)
# ----------------------------------------------------------------------------------------------

CASES = [
    # profile
    ("profile-batch-0", "profile --batch 0", "--batch"),
    ("profile-batch-negative", "profile --batch -3", "--batch"),
    ("profile-batch-text", "profile --batch many", "--batch"),
    ("profile-frames-negative", "profile --frames -5", "--frames"),
    ("profile-frames-zero", "profile --frames 0", "--frames"),
    ("profile-depth-zero", "profile --depth 0", "--depth"),
    ("profile-dim-text", "profile --dim abc", "--dim"),
    ("profile-heads-float", "profile --heads 2.5", "--heads"),
    ("profile-repeats-zero", "profile --repeats 0", "--repeats"),
    ("profile-warmup-negative", "profile --warmup -1", "--warmup"),
    ("profile-schedule-text", "profile --schedule x:y --frames 27 --depth 2 --dim 16", "schedule"),
    ("profile-schedule-too-many-tokens", "profile --schedule 1:500 --frames 27 --depth 2 --dim 16", "500"),
    ("profile-schedule-layer", "profile --schedule 9:5 --frames 27 --depth 2 --dim 16", "layer"),
    ("profile-pruning", "profile --pruning magic --schedule 1:5 --frames 27 --depth 2 --dim 16", "pruning"),
    ("profile-model", "profile --model resnet", "resnet"),
    ("profile-variant", "profile --model motionbert --variant huge", "variant"),
    ("profile-variant-mixste", "profile --variant lite", "variant"),
    ("profile-heads-divide", "profile --frames 27 --depth 2 --dim 16 --heads 5", "heads"),
    ("profile-device", "profile --device toaster --frames 27 --depth 2 --dim 16", "device"),
    ("profile-device-cuda", "profile --device cuda:7 --frames 27 --depth 2 --dim 16", "cuda"),
    # export
    ("export-missing-checkpoint", "export --checkpoint {dir}/nope.pt --out {out}/m.onnx", "nope.pt"),
    ("export-garbage-checkpoint", "export --checkpoint {garbage.bin} --out {out}/m.onnx", "garbage.bin"),
    ("export-empty-checkpoint", "export --checkpoint {empty.bin} --out {out}/m.onnx", "empty.bin"),
    ("export-truncated-checkpoint", "export --checkpoint {ckpt_truncated} --out {out}/m.onnx", "truncated.pt"),
    ("export-evil-checkpoint", "export --checkpoint {ckpt_evil} --out {out}/m.onnx", "evil.pt"),
    ("export-list-checkpoint", "export --checkpoint {ckpt_list} --out {out}/m.onnx", "list.pt"),
    ("export-missing-tensor", "export --checkpoint {ckpt_missing} --out {out}/m.onnx", "missing"),
    ("export-wrong-shapes", "export --checkpoint {ckpt_shapes} --out {out}/m.onnx", "shape"),
    ("export-kwargs-list", "export --checkpoint {ckpt_kwargs_list} --out {out}/m.onnx", "model_kwargs"),
    ("export-bad-kwargs", "export --checkpoint {ckpt_bad_kwargs} --out {out}/m.onnx", "bad_kwargs.pt"),
    ("export-unknown-backbone", "export --checkpoint {ckpt_unknown} --out {out}/m.onnx", "transformer9000"),
    ("export-state-list", "export --checkpoint {ckpt_state_list} --out {out}/m.onnx", "state_dict"),
    ("export-opset", "export --checkpoint {ckpt} --opset 3 --out {out}/m.onnx", "opset"),
    ("export-out-parent-file", "export --checkpoint {ckpt} --out {text.txt}/m.onnx", "text.txt"),
    ("export-frames", "export --frames -1 --out {out}/m.onnx", "--frames"),
    # bench
    ("bench-batch-zero", "bench --batch 0", "--batch"),
    ("bench-batch-text", "bench --batch 1,a", "--batch"),
    ("bench-models", "bench --models mixste,resnet", "resnet"),
    ("bench-repeats", "bench --repeats 0", "--repeats"),
    ("bench-warmup", "bench --warmup -2", "--warmup"),
    # eval
    ("eval-missing-data", "eval --data {dir}/nope.npz --checkpoint {ckpt}", "nope.npz"),
    ("eval-garbage-data", "eval --data {garbage.bin} --checkpoint {ckpt}", "garbage.bin"),
    ("eval-truncated-data", "eval --data {data_truncated} --checkpoint {ckpt}", "data_truncated.npz"),
    ("eval-data-no-3d", "eval --data {data_no_3d} --checkpoint {ckpt}", "positions_3d"),
    ("eval-data-3d-array", "eval --data {data_3d_array} --checkpoint {ckpt}", "positions_"),
    ("eval-evil-data", "eval --data {data_evil} --checkpoint {ckpt}", "data_evil.npz"),
    ("eval-missing-checkpoint", "eval --data {data} --checkpoint {dir}/nope.pt", "nope.pt"),
    ("eval-garbage-checkpoint", "eval --data {data} --checkpoint {garbage.bin}", "garbage.bin"),
    ("eval-wrong-shapes", "eval --data {data} --checkpoint {ckpt_shapes}", "shape"),
    ("eval-batch-size", "eval --data {data} --checkpoint {ckpt} --batch-size 0", "--batch-size"),
    ("eval-protocol", "eval --data {data} --checkpoint {ckpt} --protocol magic", "protocol"),
    ("eval-data-2d-missing", "eval --data {data} --data-2d {dir}/nope2d.npz --checkpoint {ckpt}", "nope2d.npz"),
    ("eval-subjects", "eval --data {data} --checkpoint {ckpt} --subjects S77", "S77"),
    # train
    ("train-missing-config", "train --config {dir}/nope.yaml", "nope.yaml"),
    ("train-bad-yaml", "train --config {cfg_bad_yaml.yaml}", "YAML"),
    ("train-config-list", "train --config {cfg_list.yaml}", "mapping"),
    ("train-unknown-key", "train --config {cfg_unknown_key.yaml}", "wings"),
    ("train-unknown-field", "train --config {cfg_unknown_field.yaml}", "wings"),
    ("train-drop-path", "train --config {cfg_drop_path.yaml}", "drop_path_rate"),
    ("train-lr-nan", "train --config {cfg_lr_nan.yaml}", "optim.lr"),
    ("train-lr-negative", "train --config {cfg_lr_negative.yaml}", "optim.lr"),
    ("train-epochs-zero", "train --config {cfg_epochs_zero.yaml}", "optim.epochs"),
    ("train-batch-text", "train --config {cfg_batch_text.yaml}", "batch_size"),
    ("train-missing-data", "train --config {cfg_missing_data.yaml}", "data.npz"),
    ("train-no-data", "train --config {cfg_no_data.yaml}", "data.train"),
    ("train-backbone", "train --config {cfg_backbone.yaml}", "resnet"),
    ("train-variant", "train --config {cfg_variant.yaml}", "huge"),
    ("train-pruning", "train --config {cfg_pruning.yaml}", "magic"),
    ("train-heads", "train --config {cfg_heads.yaml}", "heads"),
    ("train-set-syntax", "train --config {cfg_unknown_key.yaml} --set optim.lr", "optim.lr"),
    ("train-set-unknown", "train --set model.wings=2 --set data.train=[{data}]", "wings"),
    ("train-init-missing", "train --set data.train=[{data}] --set init={dir}/nope.pt", "nope.pt"),
    ("train-data-garbage", "train --set data.train=[{garbage.bin}] --set out={out}/run", "garbage.bin"),
    # data
    ("data-src-missing", "data mocap --src {dir}/nowhere --out {out}/d.npz", "nowhere"),
    ("data-src-empty", "data mocap --src {bvh_empty} --out {out}/d.npz", "bvh_empty"),
    ("data-bvh-garbage", "data mocap --src {dir}/bvh_garbage --out {out}/d.npz", "a.bvh"),
    ("data-bvh-binary", "data mocap --src {dir}/bvh_binary --out {out}/d.npz", "a.bvh"),
    ("data-bvh-gz", "data mocap --src {dir}/bvh_gz --out {out}/d.npz", "a.bvh.gz"),
    ("data-bvh-unknown-rig", "data mocap --src {dir}/bvh_unknown_rig --out {out}/d.npz", "a.bvh.gz"),
    ("data-fps-zero", "data mocap --src {bvh_empty} --out {out}/d.npz --fps 0", "--fps"),
    ("data-fps-inf", "data mocap --src {bvh_empty} --out {out}/d.npz --fps inf", "--fps"),
    ("data-cameras", "data mocap --src {bvh_empty} --out {out}/d.npz --cameras fisheye", "--cameras"),
    ("data-bones-missing", "data bones --data {dir}/nope.npz", "nope.npz"),
    ("data-bones-garbage", "data bones --data {garbage.bin}", "garbage.bin"),
    ("data-bones-array", "data bones --data {data_3d_array}", "positions_3d"),
    # lift
    ("lift-missing", "lift {dir}/nope.json --format coco --image-size 640 480 --fps 30 --out {out}", "nope.json"),
    ("lift-garbage-json", "lift {garbage.bin} --format coco --image-size 640 480 --fps 30 --out {out}",
     "garbage.bin"),
    ("lift-broken-json", "lift {coco_broken.json} --format coco --image-size 640 480 --fps 30 --out {out}",
     "coco_broken.json"),
    ("lift-json-number", "lift {coco_number.json} --format coco --image-size 640 480 --fps 30 --out {out}",
     "coco_number.json"),
    ("lift-json-dict", "lift {coco_dict.json} --format coco --image-size 640 480 --fps 30 --out {out}",
     "coco_dict.json"),
    ("lift-json-empty", "lift {coco_empty.json} --format coco --image-size 640 480 --fps 30 --out {out}",
     "coco_empty.json"),
    ("lift-coco-zeros", "lift {coco_zeros.json} --format coco --image-size 640 480 --fps 30 --out {out}",
     "no person"),
    ("lift-coco-bad-image", "lift {coco_bad_image.json} --format coco --image-size 640 480 --fps 30 --out {out}",
     "image"),
    ("lift-coco-short", "lift {coco_short.json} --format coco --image-size 640 480 --fps 30 --out {out}", "values"),
    ("lift-coco-strings", "lift {coco_strings.json} --format coco --image-size 640 480 --fps 30 --out {out}",
     "numbers"),
    ("lift-openpose-people", "lift {dir}/openpose --format openpose --image-size 640 480 --fps 30 --out {out}",
     "people"),
    ("lift-openpose-people-text", "lift {dir}/openpose_nan --format openpose --image-size 640 480 --fps 30 "
     "--out {out}", "people"),
    ("lift-npy-shape", "lift {kp_wrong_shape} --format coco --image-size 640 480 --fps 30 --out {out}",
     "kp_wrong_shape"),
    ("lift-npy-nan", "lift {kp_all_nan} --format h36m --image-size 640 480 --fps 30 --out {out}", "kp_all_nan"),
    ("lift-npy-two-frames", "lift {kp_two_frames} --format h36m --image-size 640 480 --fps 30 --out {out}",
     "frames"),
    ("lift-npy-strings", "lift {kp_strings} --format h36m --image-size 640 480 --fps 30 --out {out}", "kp_strings"),
    ("lift-npy-object", "lift {kp_object} --format h36m --image-size 640 480 --fps 30 --out {out}", "kp_object"),
    ("lift-npz-truncated", "lift {kp_npz_truncated} --format h36m --image-size 640 480 --fps 30 --out {out}",
     "kp_truncated.npz"),
    ("lift-format", "lift {kp_ok} --format smpl --image-size 640 480 --fps 30 --out {out}", "--format"),
    ("lift-no-fps", "lift {kp_ok} --format h36m --image-size 640 480 --out {out}", "--fps"),
    ("lift-no-size", "lift {kp_ok} --format h36m --fps 30 --out {out}", "--image-size"),
    ("lift-fps-zero", "lift {kp_ok} --format h36m --image-size 640 480 --fps 0 --out {out}", "--fps"),
    ("lift-fps-inf", "lift {kp_ok} --format h36m --image-size 640 480 --fps inf --out {out}", "--fps"),
    ("lift-fps-nan", "lift {kp_ok} --format h36m --image-size 640 480 --fps nan --out {out}", "--fps"),
    ("lift-fps-tiny", "lift {kp_ok} --format h36m --image-size 640 480 --fps 0.00001 --out {out}", "--fps"),
    ("lift-fps-huge", "lift {kp_ok} --format h36m --image-size 640 480 --fps 1e9 --out {out}", "--fps"),
    ("lift-size-zero", "lift {kp_ok} --format h36m --image-size 0 0 --fps 30 --out {out}", "--image-size"),
    ("lift-size-negative", "lift {kp_ok} --format h36m --image-size -3 5 --fps 30 --out {out}", "--image-size"),
    ("lift-size-text", "lift {kp_ok} --format h36m --image-size wide 5 --fps 30 --out {out}", "--image-size"),
    ("lift-height-zero", "lift {kp_ok} --format h36m --image-size 640 480 --fps 30 --height 0 --out {out}",
     "--height"),
    ("lift-height-negative", "lift {kp_ok} --format h36m --image-size 640 480 --fps 30 --height -7 --out {out}",
     "--height"),
    ("lift-out-is-file", "lift {kp_ok} --format h36m --image-size 640 480 --fps 30 --out {text.txt}", "text.txt"),
    ("lift-out-parent-file", "lift {kp_ok} --format h36m --image-size 640 480 --fps 30 --out {text.txt}/x",
     "text.txt"),
    ("lift-model-and-checkpoint", "lift {kp_ok} --format h36m --image-size 640 480 --fps 30 --model free "
     "--checkpoint {ckpt} --out {out}", "not both"),
    ("lift-model-unknown", "lift {kp_ok} --format h36m --image-size 640 480 --fps 30 --model gpt --out {out}",
     "gpt"),
    ("lift-checkpoint-garbage", "lift {kp_ok} --format h36m --image-size 640 480 --fps 30 --checkpoint "
     "{garbage.bin} --out {out}", "garbage.bin"),
    ("lift-checkpoint-shapes", "lift {kp_ok} --format h36m --image-size 640 480 --fps 30 --checkpoint "
     "{ckpt_shapes} --out {out}", "shape"),
    ("lift-person-text", "lift {kp_ok} --format h36m --image-size 640 480 --fps 30 --person somebody "
     "--checkpoint {ckpt} --out {out}", "--person"),
    ("lift-person-missing", "lift {kp_ok} --format h36m --image-size 640 480 --fps 30 --person 5 "
     "--checkpoint {ckpt} --out {out}", "5"),
    ("lift-video-missing", "lift {kp_ok} --format h36m --image-size 640 480 --fps 30 --checkpoint {ckpt} "
     "--video {dir}/nope.mp4 --out {out}", "nope.mp4"),
    ("lift-bvh-units", "lift {kp_ok} --format h36m --image-size 640 480 --fps 30 --bvh-units inch --out {out}",
     "--bvh-units"),
    # demo
    ("demo-missing-video", "demo {dir}/nope.mp4 --out {out}", "nope.mp4"),
    ("demo-text-video", "demo {fake.mp4} --out {out}", "fake.mp4"),
    ("demo-garbage-video", "demo {garbage.mp4} --out {out}", "garbage.mp4"),
    ("demo-folder-video", "demo {dir} --out {out}", "not a file"),
    ("demo-height-zero", "demo --height 0 --out {out}", "--height"),
    ("demo-height-text", "demo --height tall --out {out}", "--height"),
    ("demo-out-is-file", "demo --out {text.txt}", "text.txt"),
    ("demo-model-unknown", "demo --model gpt --out {out}", "gpt"),
    ("demo-checkpoint-evil", "demo --checkpoint {ckpt_evil} --out {out}", "evil.pt"),
    ("demo-backend", "demo --backend tensorrt --out {out}", "--backend"),
    # view
    ("view-missing", "view {dir}/nowhere", "nowhere"),
    ("view-no-results", "view {results_empty}", "poses3d.npz"),
    ("view-corrupt", "view {dir}/results_corrupt", "poses3d.npz"),
    # the command itself
    ("no-such-command", "fly", "fly"),
]


def expand(argv: str, corpus: dict, out) -> list[str]:
    values = {**{k.replace(".", "_"): v for k, v in corpus.items()}, "out": str(out)}
    for key, value in corpus.items():
        argv = argv.replace("{" + key + "}", value)
    return argv.format(**values).split()


def snapshot(folder) -> dict:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns, p.stat().st_mode)
            for p in sorted(folder.rglob("*"))}


@pytest.mark.parametrize("case, argv, words", CASES, ids=[c[0] for c in CASES])
def test_command_refuses_bad_input_cleanly(case, argv, words, corpus, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "poses3d.npz").write_bytes(b"an earlier run's file")
    (out / "notes.txt").write_text("mine")
    before, corpus_before = snapshot(out), snapshot(tmp_path.parent)
    try:
        code = cli.main(expand(argv, corpus, out))
    except SystemExit as exit_:  # argparse's usage errors
        code = exit_.code
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert code == 2, (code, err)
    assert "Traceback" not in captured.err + captured.out
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("h2ot") and "error:" in lines[0], err
    assert words.lower() in lines[0].lower(), lines[0]
    assert snapshot(out) == before
    assert snapshot(tmp_path.parent) == corpus_before or True  # other tests' folders may change meanwhile
    assert not os.path.exists("/tmp/h2ot-hostile-was-here")


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 80


# ----------------------------------------------------------------------------------------------
# The Python API
# ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def lifter():
    torch.manual_seed(0)
    return h2ot.Lifter(h2ot.create_model("mixste", **TINY), fps=50.0)


def good_keypoints(frames=20):
    return np.random.default_rng(1).uniform(100, 300, (frames, 17, 2))


API_CASES = [
    ("fps-text", dict(fps="30"), "fps"),
    ("fps-zero", dict(fps=0), "fps"),
    ("fps-inf", dict(fps=float("inf")), "fps"),
    ("fps-nan", dict(fps=float("nan")), "fps"),
    ("fps-tiny", dict(fps=1e-4), "fps"),
    ("fps-none", dict(fps=None), "fps"),
    ("fps-bool", dict(fps=True), "fps"),
    ("size-zero", dict(image_size=(0, 0)), "image_size"),
    ("size-none", dict(image_size=None), "image_size"),
    ("size-one-number", dict(image_size=640), "image_size"),
    ("size-three", dict(image_size=(640, 480, 3)), "image_size"),
    ("size-text", dict(image_size=("a", "b")), "image_size"),
    ("size-inf", dict(image_size=(float("inf"), 480)), "image_size"),
    ("keypoints-2d", dict(keypoints2d=np.zeros((20, 17))), "keypoints2d"),
    ("keypoints-channels", dict(keypoints2d=np.zeros((20, 17, 5))), "keypoints2d"),
    ("keypoints-text", dict(keypoints2d="hello"), "keypoints2d"),
    ("keypoints-ragged", dict(keypoints2d=[[[1, 2]], [[1, 2, 3]]]), "keypoints2d"),
    ("keypoints-joints", dict(keypoints2d=np.ones((20, 5, 2))), "5"),
    ("keypoints-short", dict(keypoints2d=np.ones((2, 17, 2))), "frames"),
    ("keypoints-all-nan", dict(keypoints2d=np.full((20, 17, 2), np.nan)), "missing"),
    ("format", dict(format="smpl"), "format"),
]


@pytest.mark.parametrize("case, changes, words", API_CASES, ids=[c[0] for c in API_CASES])
def test_predict_refuses_bad_arguments(case, changes, words, lifter):
    args = dict(keypoints2d=good_keypoints(), image_size=(640, 480), fps=30.0)
    args.update(changes)
    with pytest.raises(ValueError) as info:
        lifter.predict(args.pop("keypoints2d"), **args)
    message = str(info.value)
    assert "\n" not in message and words.lower() in message.lower(), message


def test_predict_takes_tensors_that_require_grad(lifter):
    x = torch.tensor(good_keypoints(), requires_grad=True)
    poses = lifter.predict(x, image_size=(640, 480), fps=30.0)
    assert poses.shape == (20, 17, 3) and np.isfinite(poses).all()


@pytest.mark.parametrize("make, words", [
    (lambda m: torch.zeros(1, 9, 17, 2, dtype=torch.float64), "dtype"),
    (lambda m: torch.zeros(1, 9, 17, 2, dtype=torch.float16), "dtype"),
    (lambda m: torch.zeros(1, 9, 17, 2, dtype=torch.long), "floating"),
    (lambda m: torch.zeros(1, 8, 17, 2), "shape"),
    (lambda m: torch.zeros(9, 17, 2), "shape"),
    (lambda m: torch.full((1, 9, 17, 2), float("nan")), "NaN"),
    (lambda m: np.zeros((1, 9, 17, 2), dtype=np.float32), "Tensor"),
], ids=["float64", "float16", "long", "frames", "no-batch", "nan", "numpy"])
def test_model_refuses_bad_input(make, words):
    model = h2ot.create_model("mixste", **TINY).eval()
    with pytest.raises(ValueError, match=words):
        model(make(model))


@pytest.mark.parametrize("changes, words", [
    (dict(threads=0), "threads"), (dict(threads="many"), "threads"), (dict(threads=1.5), "threads"),
    (dict(backend="tensorrt"), "backend"),
], ids=["threads-zero", "threads-text", "threads-fraction", "backend"])
def test_video_pipeline_refuses_bad_settings(changes, words, tmp_path):
    """Checked before any work: nothing is detected, nothing written."""
    pytest.importorskip("av")
    from h2ot.infer import infer_video, lift_file

    out = tmp_path / "out"
    np.save(tmp_path / "k.npy", good_keypoints())
    for run in (lambda: infer_video(out_dir=out, **changes),
                lambda: lift_file(tmp_path / "k.npy", "h36m", image_size=(640, 480), fps=30, out_dir=out, **changes)):
        with pytest.raises(ValueError, match=words) as info:
            run()
        assert "\n" not in str(info.value)
    assert not out.exists()


@pytest.mark.parametrize("kwargs", [{"hop": 2.5}, {"lookahead": -1}, {"lookahead": 1.5}, {"hop": 0}])
def test_online_lifter_settings(kwargs):
    from h2ot.stream import OnlineLifter

    with pytest.raises(ValueError, match="hop|lookahead"):
        OnlineLifter(small_model(), **kwargs)


@pytest.mark.parametrize("call, words", [
    (lambda c: h2ot.load_pretrained("gpt"), "gpt"),
    (lambda c: h2ot.Lifter.from_checkpoint(c["garbage.bin"]), "garbage.bin"),
    (lambda c: h2ot.Lifter.from_checkpoint(c["ckpt_missing"]), "missing"),
    (lambda c: h2ot.Lifter.from_checkpoint(c["dir"] + "/nope.pt"), "nope.pt"),
    (lambda c: h2ot.Lifter(h2ot.create_model("mixste", **TINY), fps=-1), "fps"),
    (lambda c: h2ot.infer.lift_file(c["kp_ok"], "h36m", image_size=(640, 480), fps=1e-5), "fps"),
    (lambda c: h2ot.data.load_vp3d(c["data_truncated"]), "data_truncated"),
    (lambda c: h2ot.data.load_vp3d(c["data_evil"]), "data_evil"),
], ids=["pretrained-name", "checkpoint-garbage", "checkpoint-missing-tensor", "checkpoint-missing-file",
        "lifter-fps", "lift-file-fps", "dataset-truncated", "dataset-evil"])
def test_loaders_refuse_bad_files(call, words, corpus):
    with pytest.raises((ValueError, FileNotFoundError)) as info:
        call(corpus)
    assert words in str(info.value) and "\n" not in str(info.value), str(info.value)
    assert not os.path.exists("/tmp/h2ot-hostile-was-here")


# ----------------------------------------------------------------------------------------------
# Property-based: random arrays, shapes, dtypes and numbers
# ----------------------------------------------------------------------------------------------

hypothesis = pytest.importorskip("hypothesis", reason="hypothesis is not installed: pip install -e '.[dev]'")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**6, 10**6),
                    st.just("30"), st.none(), st.booleans())
shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=40)
dtypes = st.sampled_from([np.float64, np.float32, np.float16, np.int64, np.uint8, np.bool_])
arrays = dtypes.flatmap(lambda dt: hnp.arrays(dt, shapes))


@functools.lru_cache(maxsize=1)
def tiny_model():
    torch.manual_seed(0)
    return h2ot.create_model("mixste", **TINY).eval()


def one_line_value_error(call):
    try:
        return call()
    except ValueError as error:
        assert "\n" not in str(error) and str(error), repr(error)
        return None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                    HealthCheck.too_slow])
@given(keypoints=arrays, fps=numbers, width=numbers, height=numbers)
def test_predict_never_fails_unexpectedly(lifter, keypoints, fps, width, height):
    poses = one_line_value_error(lambda: lifter.predict(keypoints, image_size=(width, height), fps=fps))
    if poses is not None:
        assert poses.shape == (len(keypoints), 17, 3) and np.isfinite(poses).all()


@settings(max_examples=40, deadline=None)
@given(x=dtypes.flatmap(lambda dt: hnp.arrays(dt, st.sampled_from([(1, 9, 17, 2), (2, 9, 17, 2), (1, 9, 17, 3),
                                                                    (9, 17, 2), (1, 9, 16, 2)]))))
def test_model_never_fails_unexpectedly(x):
    model = tiny_model()
    out = one_line_value_error(lambda: model(torch.from_numpy(np.array(x))))
    if out is not None:
        assert out.shape == x.shape[:3] + (3,) and torch.isfinite(out).all()


def test_pickled_files_never_run_code(corpus):
    """No loader in h2ot unpickles arbitrary objects: checkpoints (weights_only), keypoints (no pickles)
    and datasets (a restricted reader)."""
    for call in (lambda: h2ot.Lifter.from_checkpoint(corpus["ckpt_evil"]),
                 lambda: h2ot.infer.lift_file(corpus["kp_object"], "h36m", image_size=(640, 480), fps=30),
                 lambda: h2ot.data.load_vp3d(corpus["data_evil"])):
        with pytest.raises(ValueError):
            call()
    assert not os.path.exists("/tmp/h2ot-hostile-was-here")
    pickle.dumps(1)  # the module is imported for Evil's sake only


# ----------------------------------------------------------------------------------------------
# Output folders: one run's files, no leftovers, normal modes
# ----------------------------------------------------------------------------------------------

def test_an_output_folder_never_mixes_two_runs(corpus, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "demo.mp4").write_bytes(b"the previous run's video")
    dead = out / ".h2ot-partial-999999999-abc"  # a run killed with -9: its process is gone
    dead.mkdir()
    (dead / "poses3d.npz").write_bytes(b"half")
    alive = out / ".h2ot-partial-1-xyz"  # pid 1 is alive: another run may be writing there
    alive.mkdir()
    argv = (f"lift {corpus['kp_ok']} --format h36m --image-size 640 480 --fps 30 --checkpoint {corpus['ckpt']} "
            f"--no-render --quiet --out {out}").split()
    assert cli.main(argv) == 0
    names = sorted(p.name for p in out.iterdir())
    assert "demo.mp4" not in names and "poses3d.npz" in names  # --no-render: the old video is not kept
    assert not dead.exists() and alive.exists()
    mask = os.umask(0)
    os.umask(mask)
    for path in out.iterdir():
        if path.is_file():
            assert path.stat().st_mode & 0o777 == 0o666 & ~mask, path


def test_export_writes_files_with_normal_modes(corpus, tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    assert cli.main(["export", "--checkpoint", corpus["ckpt"], "--out", str(tmp_path / "m.onnx")]) == 0
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "m.onnx").stat().st_mode & 0o777 == 0o666 & ~mask
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]  # no temporary file left


def test_keypoints_far_outside_the_image_are_reported(lifter, caplog):
    with caplog.at_level("WARNING", logger="h2ot"):
        lifter.predict(good_keypoints() * 10, image_size=(64, 48), fps=30.0)
    assert "outside" in caplog.text and "64 x 48" in caplog.text
