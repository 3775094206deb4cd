// The poses3d.html viewer (h2ot.infer.viewer inlines this module; three.js r170 comes from the page's
// import map). Data: the JSON block #h2ot-meta and base64 blocks of little-endian int16 / uint8 arrays
// (meta.blocks[name] = {id, dtype, shape, step, bytes, adler32}); a value is q * step, -32768 = missing.
// URL parameters: ?frame=N opens paused at frame N, &speed=S, &video=0 hides the video, &path=0 pins the
// skeleton in place (a result with a trajectory moves along it: the path3d block).
// #h2ot-readback receives a JSON summary once the page is ready (read by tests/test_viewer.py).
import * as THREE from 'three';
import { OrbitControls } from 'three/addons/controls/OrbitControls.js';

window.h2otStarted = true;
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const MISSING = -32768;

class DataError extends Error {}

// ---------------------------------------------------------------------------------------------
// Data
// ---------------------------------------------------------------------------------------------

function adler32(bytes) {
  let a = 1, b = 0;
  for (let i = 0; i < bytes.length;) {
    const end = Math.min(i + 5552, bytes.length);
    for (; i < end; i++) { a += bytes[i]; b += a; }
    a %= 65521; b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

function base64Bytes(text) {
  if (Uint8Array.fromBase64) return Uint8Array.fromBase64(text);
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function readBlock(name, spec) {
  const element = spec && document.getElementById(spec.id);
  if (!element) throw new DataError(`its "${name}" data block is missing`);
  let bytes;
  try {
    bytes = base64Bytes(element.textContent.replace(/\s+/g, ''));
  } catch (error) {
    throw new DataError(`its "${name}" data block is not valid base64`);
  }
  if (bytes.length !== spec.bytes) {
    throw new DataError(`its "${name}" data block holds ${bytes.length} bytes, ${spec.bytes} expected`);
  }
  if (adler32(bytes) !== spec.adler32) throw new DataError(`its "${name}" data block is damaged (checksum mismatch)`);
  return bytes;
}

function dequantize(bytes, step) {
  const q = new Int16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2);
  const out = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) out[i] = q[i] === MISSING ? NaN : q[i] * step;
  return out;
}

function loadData() {
  const element = $('h2ot-meta');
  if (!element) throw new DataError('its "meta" data block is missing');
  let meta;
  try {
    meta = JSON.parse(element.textContent);
  } catch (error) {
    throw new DataError('its "meta" data block is not valid JSON');
  }
  if (!meta || meta.format !== 'h2ot.viewer/1') throw new DataError('its "meta" data block is not h2ot.viewer/1');
  const T = meta.num_frames, J = meta.joint_names.length;
  if (!(T >= 1) || !(meta.fps > 0)) throw new DataError('its "meta" data block has no frames or no frame rate');
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new DataError('this computer is big-endian');
  const blocks = meta.blocks || {};
  const need = (name, count, size) => {
    const spec = blocks[name];
    if (!spec || spec.bytes !== count * size) throw new DataError(`its "${name}" block description is wrong`);
    return readBlock(name, spec);
  };
  const poses = dequantize(need('poses3d', T * J * 3, 2), blocks.poses3d.step);
  const keypoints = blocks.keypoints2d ? dequantize(need('keypoints2d', T * J * 2, 2), blocks.keypoints2d.step) : null;
  const detected = need('detected', T, 1);
  const times = blocks.times ? new Float32Array(need('times', T, 4).buffer) : null;  // a variable frame rate
  const path = blocks.path3d ? dequantize(need('path3d', T * J * 3, 2), blocks.path3d.step) : null;  // camera frame
  return { meta, T, J, poses, keypoints, detected, times, path };
}

// ---------------------------------------------------------------------------------------------
// The viewer
// ---------------------------------------------------------------------------------------------

function start(data) {
  const { meta, T, J, poses, keypoints, detected, times, path } = data;
  const fps = meta.fps;
  const timeOf = (f) => (times ? times[f] : f / fps);  // seconds from the first frame
  const duration = timeOf(T - 1) + 1 / fps;
  const frameAt = (t) => {  // the frame shown at t seconds
    if (!times) return Math.floor(t * fps + 1e-6);
    let lo = 0, hi = T - 1;
    while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (times[mid] <= t + 1e-6) lo = mid; else hi = mid - 1; }
    return lo;
  };
  const parents = meta.parents;
  const sides = meta.sides;  // per joint: "r", "l" or "c" (a bone takes its child's side)
  const rgb = (c) => `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
  const sideColour = { r: meta.colours.right, l: meta.colours.left, c: meta.colours.centre };
  // camera y of the floor (y down): three.js Y = floor - y; along the path, the path's own floor
  const pathOn = () => Boolean(path) && $('showpath').checked;
  const floorOf = () => (pathOn() ? meta.path_floor_offset : meta.floor_offset);
  const floor = meta.floor_offset;

  $('subtitle').textContent = `${T} frames at ${+fps.toFixed(3)} fps · detected in ${meta.num_detected}/${T}` +
    (meta.model ? ` · model: ${meta.model}` : '');

  const state = { frame: 0, playing: false, speed: 1, t0: 0, s0: 0 };  // clock: at t0 (ms) it was s0 (s)
  const slider = $('slider');
  slider.max = String(T - 1);

  // --- 3D ---------------------------------------------------------------------------------
  const pane3d = $('pane3d');
  let renderer = null, scene = null, camera = null, controls = null, materials = null, grid = null, trail = null;
  const joints3d = [], bones3d = [];
  const target = new THREE.Vector3(0, floor, 0);  // the pelvis
  const home = new THREE.Vector3();  // the initial camera position
  try {
    renderer = new THREE.WebGLRenderer({ canvas: $('view3d'), antialias: true });
  } catch (error) {
    renderer = null;
    $('note3d').textContent = 'WebGL is not available in this browser, so the 3D view is off ' +
      '(the 2D view and the controls still work).';
    $('note3d').hidden = false;
  }
  if (renderer) {
    renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2));
    scene = new THREE.Scene();
    scene.background = new THREE.Color(0x111419);
    camera = new THREE.PerspectiveCamera(40, 1, 0.01, 200);
    scene.add(new THREE.HemisphereLight(0xffffff, 0x404040, 2.2));
    const sun = new THREE.DirectionalLight(0xffffff, 1.6);
    sun.position.set(2, 5, 4);
    scene.add(sun);
    grid = new THREE.GridHelper(8, 32, 0x6e7681, 0x30363d);
    scene.add(grid);
    const material = (c, opacity = 1) => new THREE.MeshStandardMaterial({
      color: new THREE.Color().setRGB(c[0] / 255, c[1] / 255, c[2] / 255, THREE.SRGBColorSpace),
      roughness: 0.55, metalness: 0.0, transparent: opacity < 1, opacity });
    materials = {
      r: material(meta.colours.right), l: material(meta.colours.left), c: material(meta.colours.centre),
      joint: material([235, 238, 242]), missing: material(meta.colours.missing, 0.45),
      missingJoint: material([200, 200, 200], 0.45) };
    const boneGeometry = new THREE.CylinderGeometry(0.018, 0.018, 1, 12);
    const jointGeometry = new THREE.SphereGeometry(0.026, 16, 12);
    for (let j = 0; j < J; j++) {
      const sphere = new THREE.Mesh(jointGeometry, materials.joint);
      scene.add(sphere);
      joints3d.push(sphere);
      if (parents[j] >= 0) {
        const bone = new THREE.Mesh(boneGeometry, materials[sides[j]]);
        bone.userData = { parent: parents[j], child: j, material: materials[sides[j]] };
        scene.add(bone);
        bones3d.push(bone);
      }
    }
    if (path) {  // the pelvis's path, drawn on the floor
      const points = [];
      for (let f = 0; f < T; f++) {
        const k = f * J * 3;
        if (Number.isFinite(path[k] + path[k + 2])) points.push(new THREE.Vector3(path[k], 0.004, -path[k + 2]));
      }
      trail = new THREE.Line(new THREE.BufferGeometry().setFromPoints(points),
                             new THREE.LineBasicMaterial({ color: 0xe3b341 }));
      scene.add(trail);
    }
    controls = new OrbitControls(camera, renderer.domElement);
    controls.enableDamping = true;
    controls.dampingFactor = 0.12;
    controls.target.copy(target);
    const spherical = new THREE.Spherical(3.1, THREE.MathUtils.degToRad(75), THREE.MathUtils.degToRad(35));
    home.setFromSpherical(spherical).add(target);
    camera.position.copy(home);
    controls.update();
  }

  const up = new THREE.Vector3(0, 1, 0), a = new THREE.Vector3(), b = new THREE.Vector3(), d = new THREE.Vector3();
  const toScene = (f, j, out) => {
    const k = (f * J + j) * 3, source = pathOn() ? path : poses;
    return out.set(source[k], floorOf() - source[k + 1], -source[k + 2]);  // camera axes (y down, z away) → Y up
  };

  const pelvis = new THREE.Vector3(0, floor, 0);  // where the pelvis was drawn last
  function follow(f) {  // the view moves as the pelvis moves (a pan or turn of the user's stays as it is)
    toScene(f, 0, a);
    if (!controls || !Number.isFinite(a.x + a.y + a.z)) return;
    d.subVectors(a, pelvis);
    camera.position.add(d);
    controls.target.add(d);
    pelvis.copy(a);
    const cell = 8 / 32;  // the grid goes along under the person by whole cells: its lines stay put
    grid.position.set(Math.round(a.x / cell) * cell, 0, Math.round(a.z / cell) * cell);
  }

  function update3d(f) {
    if (!renderer) return;
    if (trail) trail.visible = pathOn();
    follow(f);
    const seen = detected[f] !== 0;
    for (let j = 0; j < J; j++) {
      const sphere = joints3d[j];
      toScene(f, j, sphere.position);
      sphere.visible = Number.isFinite(sphere.position.x + sphere.position.y + sphere.position.z);
      sphere.material = seen ? materials.joint : materials.missingJoint;
    }
    for (const bone of bones3d) {
      toScene(f, bone.userData.parent, a);
      toScene(f, bone.userData.child, b);
      d.subVectors(b, a);
      const length = d.length();
      bone.visible = Number.isFinite(length) && length > 1e-6;
      if (!bone.visible) continue;
      bone.position.addVectors(a, b).multiplyScalar(0.5);
      bone.quaternion.setFromUnitVectors(up, d.divideScalar(length));
      bone.scale.set(1, length, 1);
      bone.material = seen ? bone.userData.material : materials.missing;
    }
  }

  // --- 2D ---------------------------------------------------------------------------------
  const pane2d = $('pane2d'), canvas2d = $('view2d'), ctx = canvas2d.getContext('2d');
  const video = $('video'), videobox = $('videobox');
  const [imageW, imageH] = meta.image_size || [1, 1];
  let box = { x: 0, y: 0, s: 1 };  // image pixel → canvas CSS pixel: x + s * u
  let videoOK = false;
  const videoShown = () => videoOK && $('showvideo').checked;

  function layout2d() {
    const w = pane2d.clientWidth, h = pane2d.clientHeight, dpr = window.devicePixelRatio || 1;
    canvas2d.width = Math.max(1, Math.round(w * dpr));
    canvas2d.height = Math.max(1, Math.round(h * dpr));
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const pad = 26;
    const s = Math.max(1e-6, Math.min((w - 8) / imageW, (h - pad - 4) / imageH));
    box = { x: (w - imageW * s) / 2, y: pad + (h - pad - 4 - imageH * s) / 2, s };
    Object.assign(videobox.style, { left: `${box.x}px`, top: `${box.y}px`, width: `${imageW * s}px`,
                                    height: `${imageH * s}px` });
    if (videoOK) {  // demo.mp4 is [video panel | square 3D panel]: show only the video panel
      const panel = video.videoWidth - video.videoHeight;
      video.style.width = `${imageW * s * video.videoWidth / panel}px`;
    }
  }

  function draw2d(f) {
    const w = pane2d.clientWidth, h = pane2d.clientHeight;
    ctx.clearRect(0, 0, w, h);
    videobox.style.display = videoShown() ? 'block' : 'none';
    if (!videoShown()) {
      ctx.fillStyle = '#1b1f25';
      ctx.fillRect(box.x, box.y, imageW * box.s, imageH * box.s);
    }
    if (!keypoints) {
      ctx.fillStyle = '#8b949e';
      ctx.font = '14px system-ui, sans-serif';
      ctx.fillText('no 2D keypoints (no keypoints2d.npz)', box.x + 10, box.y + 24);
      return;
    }
    const seen = detected[f] !== 0;
    const px = (j) => box.x + box.s * keypoints[(f * J + j) * 2];
    const py = (j) => box.y + box.s * keypoints[(f * J + j) * 2 + 1];
    ctx.lineWidth = Math.max(2, Math.min(5, imageH * box.s / 160));
    ctx.lineCap = 'round';
    for (let j = 0; j < J; j++) {
      const p = parents[j];
      if (p < 0) continue;
      ctx.strokeStyle = rgb(seen ? sideColour[sides[j]] : meta.colours.missing);
      ctx.beginPath();
      ctx.moveTo(px(p), py(p));
      ctx.lineTo(px(j), py(j));
      ctx.stroke();
    }
    ctx.fillStyle = '#ffffff';
    for (let j = 0; j < J; j++) {
      ctx.beginPath();
      ctx.arc(px(j), py(j), ctx.lineWidth * 0.9, 0, 2 * Math.PI);
      ctx.fill();
    }
    if (!seen) {
      ctx.fillStyle = '#e3b341';
      ctx.font = '13px system-ui, sans-serif';
      ctx.fillText('no detection: interpolated', box.x + 8, box.y + imageH * box.s - 10);
    }
  }

  // --- timeline: frames without a detection --------------------------------------------------
  const timeline = $('timeline'), tctx = timeline.getContext('2d');
  function drawTimeline() {
    const w = Math.max(1, timeline.clientWidth), h = Math.max(1, timeline.clientHeight);
    timeline.width = w;
    timeline.height = h;
    tctx.fillStyle = '#2ea04366';
    tctx.fillRect(0, 0, w, h);
    tctx.fillStyle = '#8b949e';
    for (let x = 0; x < w; x++) {  // a column is grey when any of its frames has no detection
      const f0 = Math.floor(x * T / w), f1 = Math.max(f0 + 1, Math.floor((x + 1) * T / w));
      for (let f = f0; f < f1 && f < T; f++) if (!detected[f]) { tctx.fillRect(x, 0, 1, h); break; }
    }
  }
  timeline.addEventListener('pointerdown', (event) => {
    seek(Math.floor(event.offsetX / Math.max(1, timeline.clientWidth) * T));
  });

  // --- playback ----------------------------------------------------------------------------
  const info = $('frameinfo'), badge = $('detection'), playButton = $('play');

  function setFrame(f) {
    f = Math.max(0, Math.min(T - 1, f | 0));
    state.frame = f;
    slider.value = String(f);
    info.textContent = `frame ${f + 1} / ${T} · ${timeOf(f).toFixed(2)} s`;
    const seen = detected[f] !== 0;
    badge.textContent = seen ? '● detected' : '○ no detection (interpolated)';
    badge.className = seen ? '' : 'missing';
    draw2d(f);
    update3d(f);
  }

  function restartClock() {
    state.t0 = performance.now();
    state.s0 = timeOf(state.frame);
  }

  function seekVideo() {  // demo.mp4 has a constant rate: frame i is shown from i / fps on
    if (videoShown()) video.currentTime = (state.frame + 0.5) / fps;
  }

  function seek(f) {
    setFrame(f);
    restartClock();
    seekVideo();
  }

  function play() {
    state.playing = true;
    playButton.innerHTML = '&#10074;&#10074;';
    restartClock();
    if (videoShown()) {
      video.playbackRate = state.speed;
      if (Math.floor(video.currentTime * fps) !== state.frame) seekVideo();
      video.play().catch(() => { videoOK = false; $('videotoggle').hidden = true; restartClock(); draw2d(state.frame); });
    }
  }

  function pause() {
    state.playing = false;
    playButton.innerHTML = '&#9654;';
    if (videoOK) {
      video.pause();
      seekVideo();
    }
  }

  playButton.addEventListener('click', () => (state.playing ? pause() : play()));
  slider.addEventListener('input', () => seek(Number(slider.value)));
  $('speed').addEventListener('change', () => {
    state.speed = Number($('speed').value);
    video.playbackRate = state.speed;
    restartClock();
  });
  $('showvideo').addEventListener('change', () => {
    if (videoShown()) {
      seekVideo();
      if (state.playing) { video.playbackRate = state.speed; video.play().catch(() => {}); }
    } else {
      video.pause();
      restartClock();
    }
    draw2d(state.frame);
  });
  window.addEventListener('keydown', (event) => {
    const tag = event.target.tagName;
    if (tag === 'INPUT' || tag === 'SELECT' || (tag === 'BUTTON' && event.key === ' ')) return;
    if (event.key === ' ') { state.playing ? pause() : play(); event.preventDefault(); }
    else if (event.key === 'ArrowRight' || event.key === '.') { pause(); seek(state.frame + 1); }
    else if (event.key === 'ArrowLeft' || event.key === ',') { pause(); seek(state.frame - 1); }
    else if (event.key === 'Home') seek(0);
    else if (event.key === 'End') seek(T - 1);
  });

  function view(position) {  // a position relative to the pelvis of the frame shown
    if (!controls) return;
    camera.position.copy(position).sub(target).add(pelvis);
    controls.target.copy(pelvis);
    controls.update();
  }
  $('reset').addEventListener('click', () => view(home));
  $('camview').addEventListener('click', () => view(new THREE.Vector3(0, floor + 0.1, 4)));
  if (path) {
    $('pathtoggle').hidden = false;
    $('showpath').checked = params.get('path') !== '0';
    $('showpath').addEventListener('change', () => { setFrame(state.frame); publish(); });
  }

  // --- the video (demo.mp4 beside the result), used only when it matches this result -------------
  if (meta.video && params.get('video') !== '0') {
    video.addEventListener('loadedmetadata', () => {
      const panel = video.videoWidth - video.videoHeight;
      const frames = video.duration * fps;
      const aspect = panel / video.videoHeight;
      if (panel > 0 && Math.abs(frames - T) <= 1.5 && Math.abs(aspect - imageW / imageH) < 0.05 * imageW / imageH) {
        videoOK = true;
        video.loop = true;
        $('videotoggle').hidden = false;
        layout2d();
        if (state.playing) play(); else seekVideo();
        draw2d(state.frame);
        publish();
      }
    });
    video.addEventListener('error', () => { videoOK = false; });
    video.src = meta.video;
  }

  // --- size and the animation loop -----------------------------------------------------------
  function resize() {
    if (renderer) {
      const w = Math.max(1, pane3d.clientWidth), h = Math.max(1, pane3d.clientHeight);
      renderer.setSize(w, h, false);
      camera.aspect = w / h;
      camera.updateProjectionMatrix();
    }
    layout2d();
    drawTimeline();
    draw2d(state.frame);
    if (renderer) renderer.render(scene, camera);
    publish();
  }
  new ResizeObserver(resize).observe($('panes'));

  function tick(now) {
    requestAnimationFrame(tick);
    if (state.playing) {
      let f;
      if (videoShown()) f = Math.min(T - 1, Math.floor(video.currentTime * fps + 1e-4));
      else f = frameAt((state.s0 + (now - state.t0) / 1000 * state.speed) % duration);
      if (f !== state.frame) setFrame(f);
    }
    if (renderer) {
      controls.update();
      renderer.render(scene, camera);
    }
  }

  // --- the read-back: what the page shows now, as JSON in #h2ot-readback (tests/test_viewer.py) ------
  let readyMs = null;
  function publish() {
    const f = state.frame;
    const round = (v, digits = 1e6) => (Number.isFinite(v) ? Math.round(v * digits) / digits : null);
    const slice = (array, width) => Array.from({ length: J }, (_, j) =>
      Array.from({ length: width }, (_, c) => round(array[(f * J + j) * width + c])));
    const rect3d = $('view3d').getBoundingClientRect(), rect2d = canvas2d.getBoundingClientRect();
    const v = new THREE.Vector3();
    const onScreen = (position) => {  // CSS pixels of the window
      v.copy(position).project(camera);
      return [round(rect3d.left + (v.x + 1) / 2 * rect3d.width, 10), round(rect3d.top + (1 - v.y) / 2 * rect3d.height, 10)];
    };
    if (readyMs === null) readyMs = Math.round(performance.now());
    $('h2ot-readback').textContent = JSON.stringify({
      status: 'ok',
      num_frames: T,
      fps,
      num_detected: detected.reduce((n, v) => n + (v ? 1 : 0), 0),
      frame: f,
      time: round(timeOf(f)),
      detected: detected[f] !== 0,
      joints: slice(poses, 3),
      keypoints2d: keypoints ? slice(keypoints, 2) : null,
      webgl: Boolean(renderer),
      scene_joints: renderer ? joints3d.map((s) => [round(s.position.x), round(s.position.y), round(s.position.z)]) : null,
      screen_joints: renderer ? joints3d.map((s) => onScreen(s.position)) : null,
      screen_keypoints2d: keypoints ? Array.from({ length: J }, (_, j) => [
        round(rect2d.left + box.x + box.s * keypoints[(f * J + j) * 2], 10),
        round(rect2d.top + box.y + box.s * keypoints[(f * J + j) * 2 + 1], 10)]) : null,
      video: videoOK,
      viewport: [window.innerWidth, window.innerHeight],
      floor_offset: floorOf(),
      path: pathOn(),
      ready_ms: readyMs,
    });
  }

  const requested = params.get('frame');
  state.speed = Number(params.get('speed')) > 0 ? Number(params.get('speed')) : 1;
  $('speed').value = String(state.speed);
  setFrame(requested !== null ? Number(requested) : 0);
  resize();
  if (requested === null) play();
  requestAnimationFrame(tick);
  return { state, setFrame: seek, play, pause, joints3d, renderer };
}

// ---------------------------------------------------------------------------------------------
// Start
// ---------------------------------------------------------------------------------------------

let data;
try {
  data = loadData();
} catch (error) {
  const reason = error instanceof DataError ? error.message : `reading it failed (${error})`;
  window.h2otFail(`This page cannot show its 3D poses: ${reason}.\n\nWrite it again from the result folder ` +
                  'with:  h2ot view RESULT_DIR');
}
if (data) {
  window.h2ot = { ...start(data), data };
  window.h2otReady = true;
}
