"""Procedurally generated NTU RGB+D-style 3D skeleton actions (pure numpy).

The generator stands in for NTU RGB+D where the real data cannot be had (demo, tests).
Every clip is a human performance: a per-subject skeleton (NTU's 25 Kinect joints, bone
offsets in metres) driven by per-frame joint rotations through forward kinematics, so the
classes differ only in *how the body moves*. On top come the nuisances a real recording
has: who performs (height, tempo, amplitude, posture, phase), how often and how fast
(clip length), where the camera stands (yaw about the vertical axis), Kinect noise
(a few millimetres) and short joint drop-outs (a joint reads ``0`` for a few frames).

As in NTU, the cameras of one setup record the *same* performance at once: a performance
is generated once per ``(subject, rep, action)`` and seen from every camera, each view
with its own noise and drop-outs.

Coordinates are NTU's camera frame: ``x`` right, ``y`` up, ``z`` depth away from the
camera; the floor is near ``y = 0`` and the performers stand about 3 m from the camera.

The output is MMAction2's NTU 3D annotation dict::

    dict(split=dict(xsub_train=[...], xsub_val=[...], xview_train=[...], xview_val=[...]),
         annotations=[dict(frame_dir='S001C001P001R001A001', label=0, total_frames=T,
                           keypoint=float32 (M, T, 25, 3)), ...])

with ``M = 1`` for single-person actions and ``M = 2`` for interactions.
"""
import copy
import pickle
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..utils.atomic_io import atomic_write

__all__ = ['SYNTHETIC_NTU_CLASSES', 'NTU_PARENTS', 'forward_kinematics',
           'generate_synthetic_ntu', 'write_synthetic_ntu']

FPS = 30
NUM_JOINTS = 25

# Parent of every NTU joint (0-based) in the kinematic tree rooted at the spine base.
# Hand tip and thumb both hang from the hand.
NTU_PARENTS = (-1, 0, 20, 2, 20, 4, 5, 6, 20, 8, 9, 10, 0, 12, 13, 14, 0, 16, 17, 18,
               1, 7, 7, 11, 11)


def _topological_order(parents: Sequence[int]) -> List[int]:
    depth = []
    for j in range(len(parents)):
        d, p = 0, parents[j]
        while p >= 0:
            d, p = d + 1, parents[p]
        depth.append(d)
    return sorted(range(len(parents)), key=lambda j: depth[j])


_ORDER = _topological_order(NTU_PARENTS)

# Rest pose (standing, arms hanging) of a 1.0-scale adult, as the offset of every joint
# from its parent. Body frame: x = the performer's right, y = up, the performer faces -z
# (towards a camera at the origin when placed at z > 0 without yaw).
_REST_OFFSETS = np.array([
    [0.00, 0.00, 0.00],    # 0 spine-base (root)
    [0.00, 0.20, 0.00],    # 1 spine-mid
    [0.00, 0.08, 0.00],    # 2 neck
    [0.00, 0.13, 0.00],    # 3 head
    [-0.16, -0.03, 0.00],  # 4 l-shoulder
    [0.00, -0.26, 0.00],   # 5 l-elbow
    [0.00, -0.24, 0.00],   # 6 l-wrist
    [0.00, -0.07, 0.00],   # 7 l-hand
    [0.16, -0.03, 0.00],   # 8 r-shoulder
    [0.00, -0.26, 0.00],   # 9 r-elbow
    [0.00, -0.24, 0.00],   # 10 r-wrist
    [0.00, -0.07, 0.00],   # 11 r-hand
    [-0.09, -0.05, 0.00],  # 12 l-hip
    [0.00, -0.37, 0.00],   # 13 l-knee
    [0.00, -0.36, 0.00],   # 14 l-ankle
    [0.00, -0.05, -0.11],  # 15 l-foot
    [0.09, -0.05, 0.00],   # 16 r-hip
    [0.00, -0.37, 0.00],   # 17 r-knee
    [0.00, -0.36, 0.00],   # 18 r-ankle
    [0.00, -0.05, -0.11],  # 19 r-foot
    [0.00, 0.24, 0.00],    # 20 spine-shoulder
    [0.00, -0.08, 0.00],   # 21 l-hand-tip
    [0.00, -0.03, -0.04],  # 22 l-thumb
    [0.00, -0.08, 0.00],   # 23 r-hand-tip
    [0.00, -0.03, -0.04],  # 24 r-thumb
])

# Joint groups used by the action scripts.
L_SHO, L_ELB, L_WRI, R_SHO, R_ELB, R_WRI, R_HAND = 4, 5, 6, 8, 9, 10, 11
L_HIP, L_KNE, L_ANK, R_HIP, R_KNE, R_ANK = 12, 13, 14, 16, 17, 18
ROOT, SPINE, NECK = 0, 1, 2
_FEET = [14, 15, 18, 19]
_FOOT_CLEARANCE = 0.04  # height of the lowest foot joint above the floor (m)
# Joints that Kinect loses most often (extremities); never the torso joints that
# PreNormalize3D aligns with.
_DROPPABLE = [3, 6, 7, 10, 11, 14, 15, 18, 19, 21, 22, 23, 24]


# --------------------------------------------------------------------------- geometry
def _euler_to_matrix(angles: np.ndarray) -> np.ndarray:
    """``(..., 3)`` angles ``(ax, ay, az)`` in radians -> ``(..., 3, 3)`` = Ry @ Rz @ Rx.

    In the body frame ``+ax`` swings a hanging limb forward (flexion), ``az`` swings it
    sideways (``+`` to the right) and ``ay`` turns about the vertical.
    """
    cx, cy, cz = np.cos(angles).transpose(-1, *range(angles.ndim - 1))
    sx, sy, sz = np.sin(angles).transpose(-1, *range(angles.ndim - 1))
    zero, one = np.zeros_like(cx), np.ones_like(cx)
    rx = np.stack([one, zero, zero, zero, cx, -sx, zero, sx, cx], -1)
    ry = np.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], -1)
    rz = np.stack([cz, -sz, zero, sz, cz, zero, zero, zero, one], -1)
    shape = angles.shape[:-1] + (3, 3)
    return ry.reshape(shape) @ rz.reshape(shape) @ rx.reshape(shape)


def _yaw_matrix(yaw: float) -> np.ndarray:
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def forward_kinematics(offsets: np.ndarray, local_rot: np.ndarray,
                       root_pos: np.ndarray) -> np.ndarray:
    """Joint positions from bone offsets and per-frame local rotations.

    A joint's rotation turns the bones of all its descendants:
    ``pos[j] = pos[parent] + G[parent] @ offsets[j]`` with ``G[j] = G[parent] @ R[j]``.

    Args:
        offsets: ``(25, 3)`` rest offset of every joint from its parent (root's unused).
        local_rot: ``(T, 25, 3, 3)`` local rotation of every joint.
        root_pos: ``(T, 3)`` position of the root (spine base).

    Returns:
        ``(T, 25, 3)`` joint positions; vectorised over frames.
    """
    T = local_rot.shape[0]
    glob = np.empty((T, NUM_JOINTS, 3, 3))
    pos = np.empty((T, NUM_JOINTS, 3))
    for j in _ORDER:
        p = NTU_PARENTS[j]
        if p < 0:
            glob[:, j], pos[:, j] = local_rot[:, j], root_pos
        else:
            pos[:, j] = pos[:, p] + glob[:, p] @ offsets[j]
            glob[:, j] = glob[:, p] @ local_rot[:, j]
    return pos


# --------------------------------------------------------------------------- timing
def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _keys(s: np.ndarray, knots: Sequence[float], values: Sequence[float]) -> np.ndarray:
    """Eased interpolation of keyframes ``values`` at phases ``knots`` (both ``(K,)``)."""
    knots, values = np.asarray(knots, float), np.asarray(values, float)
    i = np.clip(np.searchsorted(knots, s, side='right') - 1, 0, len(knots) - 2)
    w = _smoothstep((s - knots[i]) / (knots[i + 1] - knots[i]))
    return values[i] + (values[i + 1] - values[i]) * w


class _Timeline:
    """Timing of one performance of ``T`` frames.

    Attributes (all ``(T,)``): ``t`` seconds; ``u`` progress through the active part,
    0 before it and 1 after (the clip starts and ends at rest, like NTU's); ``s`` phase
    within the current repetition of a cyclic action (``cycles`` of them), 0 at rest;
    ``env`` a smooth 0 -> 1 -> 0 envelope over the active part.
    """

    def __init__(self, T: int, rng: np.random.Generator, tempo: float, period_s: float):
        i = np.arange(T, dtype=float)
        a0 = round(T * rng.uniform(0.03, 0.12))
        a1 = T - 1 - round(T * rng.uniform(0.03, 0.12))
        self.t = i / FPS
        self.u = np.clip((i - a0) / max(a1 - a0, 1), 0.0, 1.0)
        self.cycles = max(1, int(round((a1 - a0) / FPS * tempo / period_s)))
        self.s = (self.u * self.cycles) % 1.0
        ramp = max(min(0.25 * (a1 - a0), 0.5 * FPS), 1.0)
        self.env = _smoothstep((i - a0) / ramp) * _smoothstep((a1 - i) / ramp)


# --------------------------------------------------------------------------- performers
class _Style:
    """One performer: skeleton size and how they move (tempo, amplitude, posture)."""

    def __init__(self, rng: np.random.Generator):
        height = rng.uniform(0.88, 1.05)
        bone = rng.normal(1.0, 0.03, size=(NUM_JOINTS, 1))
        bone[[4, 8]] = bone[4] * rng.uniform(0.9, 1.1)  # symmetric shoulder width
        self.offsets = _REST_OFFSETS * height * bone
        self.tempo = rng.uniform(0.8, 1.25)
        self.amp = rng.uniform(0.85, 1.15)
        self.phase = rng.uniform(0.0, 2.0 * np.pi)
        posture = np.zeros((NUM_JOINTS, 3))
        posture[SPINE, 0] = rng.normal(0.0, 0.05)  # slouch / upright
        posture[NECK, 0] = rng.normal(0.0, 0.08)   # head tilt
        abd = rng.uniform(0.03, 0.15)              # arms held slightly out
        posture[R_SHO, 2], posture[L_SHO, 2] = abd, -abd
        posture[[R_ELB, L_ELB], 0] = rng.uniform(0.05, 0.3)
        stance = rng.uniform(0.0, 0.07)            # feet apart
        posture[R_HIP, 2], posture[L_HIP, 2] = stance, -stance
        self.posture = posture

    def varied(self, rng: np.random.Generator) -> '_Style':
        """The same performer on another take: tempo and amplitude vary a little."""
        take = copy.copy(self)
        take.tempo = self.tempo * rng.normal(1.0, 0.06)
        take.amp = self.amp * rng.normal(1.0, 0.05)
        return take


class _Pose:
    """Per-frame joint angles ``(T, 25, 3)``, root translation ``(T, 3)`` in the body
    frame (forward is ``-z``) and extra height ``(T,)`` above the ground contact."""

    def __init__(self, T: int):
        self.angles = np.zeros((T, NUM_JOINTS, 3))
        self.trans = np.zeros((T, 3))
        self.lift = np.zeros(T)

    def arm(self, side: str, flex=0.0, abduct=0.0, adduct_h=0.0, elbow=0.0, elbow_in=0.0):
        """Shoulder flexion/abduction/horizontal adduction, elbow flexion and elbow bend
        towards the midline (in the horizontal plane once the arm points forward),
        mirrored so that positive values mean the same movement on either side."""
        sho, elb, m = (R_SHO, R_ELB, 1.0) if side == 'r' else (L_SHO, L_ELB, -1.0)
        self.angles[:, sho, 0] += flex
        self.angles[:, sho, 2] += m * abduct
        self.angles[:, sho, 1] += m * adduct_h
        self.angles[:, elb, 0] += elbow
        self.angles[:, elb, 2] -= m * elbow_in

    def leg(self, side: str, flex=0.0, abduct=0.0, knee=0.0, ankle=0.0):
        """Hip flexion/abduction, knee flexion (positive bends) and ankle flexion."""
        hip, kne, ank, m = ((R_HIP, R_KNE, R_ANK, 1.0) if side == 'r'
                            else (L_HIP, L_KNE, L_ANK, -1.0))
        self.angles[:, hip, 0] += flex
        self.angles[:, hip, 2] += m * abduct
        self.angles[:, kne, 0] -= knee
        self.angles[:, ank, 0] += ankle

    def trunk(self, flex=0.0, twist=0.0, side=0.0):
        """Bend the torso forward (``flex``, at the hips and the spine; the legs stay
        put), twist it about the vertical and lean it sideways."""
        self.angles[:, ROOT, 0] -= 0.6 * flex
        self.angles[:, SPINE, 0] -= 0.4 * flex
        self.angles[:, [L_HIP, R_HIP], 0] += 0.6 * np.asarray(flex)[..., None]
        self.angles[:, SPINE, 1] += twist
        self.angles[:, SPINE, 2] += side

    def walk(self, forward: np.ndarray, step: float):
        """Translate forward by ``forward`` ``(T,)`` metres with a matching gait."""
        self.trans[:, 2] -= forward
        phase = np.pi * forward / step
        speed = np.abs(np.gradient(forward)) * FPS
        a = np.clip(speed / 0.5, 0.0, 1.0)  # full stride at walking speed
        swing = 0.35 * a * np.sin(phase)
        self.leg('r', flex=swing, knee=0.6 * a * np.maximum(0.0, np.cos(phase)))
        self.leg('l', flex=-swing, knee=0.6 * a * np.maximum(0.0, -np.cos(phase)))
        self.arm('r', flex=-0.5 * swing)
        self.arm('l', flex=0.5 * swing)


# --------------------------------------------------------------------------- actions
# Each action takes (T, rng, styles) and returns (poses, gap): one _Pose per person and,
# for interactions, the initial distance between the two performers (they face each other).

def _wave(T, rng, st):
    p, tl = _Pose(T), _Timeline(T, rng, st[0].tempo, 2.0)
    e, a = tl.env, st[0].amp
    osc = np.sin(2 * np.pi * 2.0 * st[0].tempo * tl.t + st[0].phase)
    p.arm('r', flex=0.2 * e, abduct=1.3 * e)
    p.angles[:, R_ELB, 2] += e * (1.8 + 0.45 * a * osc)  # forearm up, swinging sideways
    p.angles[:, R_WRI, 2] += 0.2 * e * osc
    p.trunk(side=0.05 * e)
    return [p], None


def _kick(T, rng, st):
    p, tl = _Pose(T), _Timeline(T, rng, st[0].tempo, 1.2)
    a, k = st[0].amp, [0.0, 0.3, 0.5, 0.65, 1.0]
    p.leg('r', flex=a * _keys(tl.s, k, [0, 0.9, 1.4, 0.6, 0]),
          knee=_keys(tl.s, k, [0, 1.5, 0.1, 0.9, 0]))
    lean = _keys(tl.s, k, [0, 0.1, 0.3, 0.1, 0])
    p.trunk(flex=-lean)
    p.arm('r', abduct=0.2 + lean)
    p.arm('l', abduct=0.2 + lean, flex=0.3 * lean)
    return [p], None


def _squat(T, rng, st):
    p, tl = _Pose(T), _Timeline(T, rng, st[0].tempo, 2.2)
    d = st[0].amp * _keys(tl.s, [0, 0.4, 0.6, 1.0], [0, 1, 1, 0])
    for side in 'rl':
        p.leg(side, flex=1.1 * d, knee=1.8 * d, ankle=0.7 * d)
        p.arm(side, flex=1.3 * d)
    p.trunk(flex=0.5 * d)
    return [p], None


def _jump(T, rng, st):
    p, tl = _Pose(T), _Timeline(T, rng, st[0].tempo, 1.3)
    a, k = st[0].amp, [0.0, 0.25, 0.38, 0.55, 0.72, 0.82, 1.0]
    crouch = _keys(tl.s, k, [0, 1, 0, 0.2, 0, 0.7, 0])
    for side in 'rl':
        p.leg(side, flex=0.8 * crouch, knee=1.4 * crouch, ankle=0.5 * crouch)
        p.arm(side, flex=_keys(tl.s, k, [0, -0.6, 2.4, 1.6, 0.8, 0.2, 0]))
    p.trunk(flex=0.4 * crouch)
    flight = np.clip((tl.s - 0.38) / (0.72 - 0.38), 0.0, 1.0)
    p.lift = 0.22 * a * 4.0 * flight * (1.0 - flight)  # ballistic arc
    return [p], None


def _bow(T, rng, st):
    p, tl = _Pose(T), _Timeline(T, rng, st[0].tempo, 2.6)
    b = st[0].amp * _keys(tl.s, [0, 0.35, 0.6, 1.0], [0, 1, 1, 0])
    p.trunk(flex=1.0 * b)
    p.angles[:, NECK, 0] -= 0.3 * b
    for side in 'rl':
        p.arm(side, flex=0.8 * b, adduct_h=0.2 * b)  # arms hang
    return [p], None


def _static_joints(style: _Style, pose: _Pose) -> np.ndarray:
    """Joints ``(K, 25, 3)`` of the performer in ``pose`` (K frames) with the root at the
    origin; used to fit a movement to the performer's body before animating it."""
    return forward_kinematics(style.offsets, _euler_to_matrix(pose.angles + style.posture),
                              pose.trans)


def _clap_closing(style: _Style, flex: float, elbow: float) -> float:
    """Horizontal adduction at which this performer's palms meet (hand joints ~5 cm
    apart), found by evaluating candidate angles as the frames of one FK pass."""
    cand = np.linspace(0.0, 1.0, 101)
    p = _Pose(len(cand))
    for side in 'rl':
        p.arm(side, flex=flex, elbow=elbow, adduct_h=cand)
    joints = _static_joints(style, p)
    apart = np.linalg.norm(joints[:, 11] - joints[:, 7], axis=-1)
    return float(cand[np.argmax(apart <= 0.05)])


def _clap(T, rng, st):
    p, tl = _Pose(T), _Timeline(T, rng, st[0].tempo, 2.0)
    e, closing = tl.env, _clap_closing(st[0], 1.0, 1.0)
    close = 0.5 + 0.5 * np.sin(2 * np.pi * 2.5 * st[0].tempo * tl.t + st[0].phase)
    for side in 'rl':
        # Hands meet at the performer's closing angle; how wide they open is the style.
        p.arm(side, flex=1.0 * e, elbow=1.0 * e,
              adduct_h=e * (closing - 0.45 * st[0].amp * (1.0 - close)))
    return [p], None


def _arms_raise(T, rng, st):
    p, tl = _Pose(T), _Timeline(T, rng, st[0].tempo, 1.8)
    r = st[0].amp * _keys(tl.s, [0, 0.4, 0.6, 1.0], [0, 1, 1, 0])
    for side in 'rl':
        p.arm(side, abduct=2.6 * r, flex=0.3 * r, elbow=-0.1 * r)
    p.angles[:, NECK, 0] += 0.2 * r  # look up
    return [p], None


def _punch(T, rng, st):
    p, tl = _Pose(T), _Timeline(T, rng, st[0].tempo, 0.8)
    g, a = _smoothstep(tl.env * 3.0), st[0].amp  # guard up quickly
    hit = _keys(tl.s, [0, 0.3, 0.45, 1.0], [0, 1, 1, 0]) * g
    cycle = np.floor(tl.u * tl.cycles).astype(int)
    right = ((cycle + int(st[0].phase > np.pi)) % 2 == 0).astype(float)  # lead hand
    for side, on in (('r', right), ('l', 1.0 - right)):
        h = hit * on
        p.arm(side, flex=0.6 * g + 0.9 * a * h, elbow=2.0 * g - 1.9 * h,
              adduct_h=0.35 * g - 0.15 * h)
    p.trunk(twist=0.3 * a * hit * (right - (1.0 - right)), flex=0.1 * g)
    p.leg('l', flex=0.15 * g)  # fighting stance
    return [p], None


def _side_step(T, rng, st):
    p, tl = _Pose(T), _Timeline(T, rng, st[0].tempo, 1.6)
    x = 0.3 * st[0].amp * np.sin(2 * np.pi * tl.s) * tl.env
    p.trans[:, 0] = x
    v = np.gradient(x) * FPS
    p.leg('r', abduct=0.25 * np.clip(v / 0.5, 0.0, 1.0))
    p.leg('l', abduct=0.25 * np.clip(-v / 0.5, 0.0, 1.0))
    for side in 'rl':
        p.arm(side, abduct=0.25 * tl.env, elbow=0.4 * tl.env)
    return [p], None


def _approach(u: np.ndarray, dist: float, u0: float, u1: float) -> np.ndarray:
    """Forward displacement ``(T,)`` easing from 0 to ``dist`` over ``u0 .. u1``."""
    return dist * _smoothstep((u - u0) / (u1 - u0))


def _offer_hand(p: _Pose, reach, flex=1.0):
    p.arm('r', flex=flex * reach, elbow=0.4 * reach, adduct_h=0.3 * reach)
    p.trunk(flex=0.1 * reach)


def _fit_handshake(styles: Sequence[_Style]) -> Tuple[List[float], float]:
    """Shoulder flexion per performer so both right hands are at one height, and the
    distance between the two roots at which the hands then meet."""
    cand = np.linspace(0.6, 1.4, 81)
    hands = []  # (K, 3) right hand over candidate flexions, above the floor
    for s in styles:
        offer = _Pose(len(cand))
        _offer_hand(offer, 1.0, cand)
        joints = _static_joints(s, offer)
        hands.append(joints[:, R_HAND] - [0.0, joints[:, _FEET, 1].min(), 0.0])
    height = np.mean([h[40, 1] for h in hands])  # both meet at their mean height
    best = [int(np.argmin(np.abs(h[:, 1] - height))) for h in hands]
    meet = -sum(h[i, 2] for h, i in zip(hands, best))  # sum of forward (-z) reaches
    return [float(cand[i]) for i in best], meet


def _handshake(T, rng, st):
    tl = _Timeline(T, rng, st[0].tempo, 4.0)
    gap = rng.uniform(1.6, 2.1)
    flexes, meet = _fit_handshake(st)
    meet += rng.uniform(-0.02, 0.04)
    reach = _keys(tl.u, [0, 0.35, 0.45, 0.75, 0.85, 1.0], [0, 0, 1, 1, 0, 0])
    shake = np.sin(2 * np.pi * 3.0 * st[0].tempo * tl.t) * _keys(
        tl.u, [0, 0.45, 0.5, 0.7, 0.75, 1.0], [0, 0, 1, 1, 0, 0])
    poses = []
    for s, flex in zip(st, flexes):
        p = _Pose(T)
        back = _approach(tl.u, -0.3 * rng.uniform(0.5, 1.0), 0.85, 1.0)
        p.walk(_approach(tl.u, (gap - meet) / 2, 0.05, 0.38) + back, step=0.35)
        _offer_hand(p, reach, flex)
        p.angles[:, R_ELB, 0] += 0.2 * s.amp * shake
        poses.append(p)
    return poses, gap


def _push(T, rng, st):
    tl = _Timeline(T, rng, st[0].tempo, 3.0)
    gap, a = rng.uniform(1.4, 1.9), st[0].amp
    pusher, pushed = _Pose(T), _Pose(T)
    pusher.walk(_approach(tl.u, gap - 0.75, 0.0, 0.4), step=0.35)
    arms = _keys(tl.u, [0, 0.3, 0.45, 0.8, 1.0], [0, 0, 1, 1, 0])
    shove = _keys(tl.u, [0, 0.45, 0.58, 0.8, 1.0], [0, 0, 1, 1, 0])
    for side in 'rl':
        pusher.arm(side, flex=1.3 * arms, elbow=1.0 * arms - 0.9 * shove, adduct_h=0.1)
    pusher.trunk(flex=0.25 * shove)
    # The pushed one turns to face the pusher, is shoved back and staggers.
    pushed.walk(_approach(tl.u, 0.15, 0.1, 0.35), step=0.3)
    hit = _keys(tl.u, [0, 0.5, 0.62, 0.8, 1.0], [0, 0, 1, 0.6, 0.2])
    pushed.trans[:, 2] += a * rng.uniform(0.35, 0.6) * _smoothstep((tl.u - 0.5) / 0.2)
    pushed.trunk(flex=-0.35 * hit)
    for side in 'rl':
        pushed.arm(side, abduct=0.6 * hit, flex=0.4 * hit)
    return [pusher, pushed], gap


def _hug(T, rng, st):
    tl = _Timeline(T, rng, st[0].tempo, 4.0)
    gap = rng.uniform(1.6, 2.1)
    open_ = _keys(tl.u, [0, 0.2, 0.38, 0.48, 1.0], [0, 0, 1, 0, 0])
    wrap = _keys(tl.u, [0, 0.38, 0.48, 0.75, 0.88, 1.0], [0, 0, 1, 1, 0, 0])
    poses = []
    for k, s in enumerate(st):
        p = _Pose(T)
        p.walk(_approach(tl.u, (gap - 0.4) / 2, 0.05, 0.4)
               + _approach(tl.u, -0.3, 0.78, 0.95), step=0.35)
        high = 0.25 if k == 0 else -0.25  # one arm over, one under the partner's
        for side, h in (('r', high), ('l', -high)):  # open wide, close behind the partner
            p.arm(side, abduct=0.5 * open_, flex=1.0 * open_ + (1.4 + h) * wrap,
                  elbow=0.3 * open_ + 0.2 * wrap, elbow_in=0.8 * wrap)
        p.trunk(flex=0.1 * wrap)
        poses.append(p)
    return poses, gap



# One-way actions: the body ends elsewhere than it started. Their time reversals are
# classes of their own (sit down / stand up, ...): the same poses in the opposite order,
# so they differ only in the direction of the motion.
def _sit_down(T, rng, st):
    p, tl = _Pose(T), _Timeline(T, rng, st[0].tempo, 3.0)
    d = st[0].amp * _keys(tl.u, [0, 0.1, 0.55, 1.0], [0, 0, 1, 1])
    for side in 'rl':
        p.leg(side, flex=1.1 * d, knee=1.8 * d, ankle=0.7 * d)
        p.arm(side, flex=0.9 * d)
    p.trunk(flex=0.5 * d)
    return [p], None


def _arms_up(T, rng, st):
    p, tl = _Pose(T), _Timeline(T, rng, st[0].tempo, 3.0)
    r = st[0].amp * _keys(tl.u, [0, 0.1, 0.5, 1.0], [0, 0, 1, 1])
    for side in 'rl':
        p.arm(side, abduct=2.6 * r, flex=0.3 * r, elbow=-0.1 * r)
    p.angles[:, NECK, 0] += 0.2 * r  # look up
    return [p], None


def _walk_towards(T, rng, st):
    tl = _Timeline(T, rng, st[0].tempo, 3.0)
    gap = rng.uniform(2.6, 3.4)
    poses = []
    for s in st:
        p = _Pose(T)
        p.walk(_approach(tl.u, s.amp * (gap - 1.0) / 2, 0.05, 0.85), step=0.35)
        poses.append(p)
    return poses, gap


_ACTIONS: List[Tuple[str, Callable, int, Tuple[float, float], bool]] = [
    # (name, action script, persons, duration range in seconds at tempo 1, played backwards)
    ('wave right hand', _wave, 1, (2.0, 5.0), False),
    ('kick', _kick, 1, (1.5, 4.5), False),
    ('sit down', _sit_down, 1, (2.0, 5.0), False),
    ('stand up', _sit_down, 1, (2.0, 5.0), True),
    ('put both arms up', _arms_up, 1, (2.0, 5.0), False),
    ('put both arms down', _arms_up, 1, (2.0, 5.0), True),
    ('handshake', _handshake, 2, (3.0, 9.0), False),
    ('walk towards each other', _walk_towards, 2, (3.0, 7.0), False),
    ('walk apart', _walk_towards, 2, (3.0, 7.0), True),
    ('bow', _bow, 1, (2.0, 5.0), False),
    ('clap', _clap, 1, (2.0, 5.0), False),
    ('jump up', _jump, 1, (1.5, 4.5), False),
    ('squat', _squat, 1, (2.0, 7.0), False),
    ('raise both arms', _arms_raise, 1, (2.0, 5.5), False),
    ('punch', _punch, 1, (1.5, 4.5), False),
    ('push other person', _push, 2, (2.0, 5.0), False),
    ('side-step', _side_step, 1, (2.0, 7.0), False),
    ('hug', _hug, 2, (3.0, 9.0), False),
]
SYNTHETIC_NTU_CLASSES = tuple(a[0] for a in _ACTIONS)


# --------------------------------------------------------------------------- assembly
def _perform(label: int, T: int, rng: np.random.Generator,
             styles: Sequence[_Style]) -> np.ndarray:
    """One performance in scene coordinates (floor at y = 0, centred on x = z = 0).

    Returns:
        ``(M, T, 25, 3)`` float64.
    """
    _, script, persons, _, backwards = _ACTIONS[label]
    poses, gap = script(T, rng, styles[:persons])
    out = np.empty((persons, T, NUM_JOINTS, 3))
    t = np.arange(T) / FPS
    for k, (pose, style) in enumerate(zip(poses, styles)):
        # Nobody stands perfectly still: slow sway of the body and head.
        sway = np.zeros((T, NUM_JOINTS, 3))
        for j, amp in ((ROOT, 0.015), (NECK, 0.03)):
            f, ph = rng.uniform(0.15, 0.5, 3), rng.uniform(0, 2 * np.pi, 3)
            sway[:, j] = amp * np.sin(2 * np.pi * f * t[:, None] + ph)
        rot = _euler_to_matrix(pose.angles + style.posture + sway)
        joints = forward_kinematics(style.offsets, rot, pose.trans)
        # Ground contact: the lowest foot joint rests on the floor in every frame.
        joints[..., 1] += _FOOT_CLEARANCE - joints[:, _FEET, 1].min(1, keepdims=True)
        joints[..., 1] += pose.lift[:, None]
        if gap is not None:  # interaction: face each other across the gap along x
            yaw = -np.pi / 2 if k == 0 else np.pi / 2
            joints = joints @ _yaw_matrix(yaw).T
            joints[..., 0] += -gap / 2 if k == 0 else gap / 2
        out[k] = joints
    # A one-way action played backwards is its opposite: the exact time reversal.
    return np.ascontiguousarray(out[:, ::-1]) if backwards else out


def _view(scene: np.ndarray, yaw_deg: float, rng: np.random.Generator, noise_std: float,
          drop_prob: float) -> np.ndarray:
    """What one camera records of a scene: ``(M, T, 25, 3)`` float32 in camera frame."""
    yaw = np.deg2rad(yaw_deg) + rng.normal(0.0, 0.08)  # camera placement varies a little
    centre = np.array([rng.uniform(-0.25, 0.25), 0.0, rng.uniform(2.7, 3.3)])
    kp = scene @ _yaw_matrix(yaw).T + centre
    kp = kp + rng.normal(0.0, noise_std, kp.shape)
    M, T = kp.shape[:2]
    for m in range(M):
        if rng.random() < drop_prob:  # Kinect loses a joint for a few frames
            for _ in range(rng.integers(1, 4)):
                j = rng.choice(_DROPPABLE)
                t0 = rng.integers(1, max(T - 2, 2))
                kp[m, t0:t0 + rng.integers(2, 11), j] = 0.0
    return kp.astype(np.float32)


def _check_int(name: str, value, low: int, high: Optional[int] = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low \
            or (high is not None and value > high):
        allowed = f'in [{low}, {high}]' if high is not None else f'>= {low}'
        raise ValueError(f'generate_synthetic_ntu: {name} must be an integer {allowed}, '
                         f'got {value!r}')
    return int(value)


def generate_synthetic_ntu(num_classes: int = 10, subjects: int = 8, views: int = 3,
                           reps: int = 2, seed: int = 0, min_frames: int = 40,
                           max_frames: int = 300, view_yaws: Optional[Sequence[float]] = None,
                           noise_std: float = 0.004, drop_prob: float = 0.25) -> Dict:
    """Generate an NTU RGB+D-style 3D skeleton annotation dict.

    There are ``num_classes * subjects * reps`` performances, each seen by ``views``
    cameras, so ``num_classes * subjects * views * reps`` clips. Splits follow NTU:
    ``xsub`` trains on odd subject ids and validates on even ones; ``xview`` validates
    on camera 1 and trains on the others.

    Args:
        num_classes: the first ``num_classes`` of :data:`SYNTHETIC_NTU_CLASSES` (1-18);
            the default 10 include two interactions (handshake, push).
        subjects: performers (>= 2, so both xsub splits are non-empty).
        views: cameras (>= 2, so both xview splits are non-empty).
        reps: takes of every action per subject and camera.
        seed: non-negative integer; equal seeds give identical data.
        min_frames, max_frames: clip length bounds ``T`` (8 <= min <= max).
        view_yaws: camera yaw in degrees per view; default evenly spread over
            ``[-45, 45]`` (NTU's three cameras).
        noise_std: std of the Gaussian sensor noise per coordinate, metres.
        drop_prob: chance that a clip's performer loses 1-3 joints for 2-10 frames.

    Returns:
        ``dict(split=..., annotations=[...])`` as described in the module docstring;
        ``keypoint`` is float32 ``(M, T, 25, 3)`` with ``M`` 1 or 2, labels are
        ``0 .. num_classes - 1`` and ``frame_dir`` is ``S001C{view}P{subject}R{rep}A{label+1}``.
    """
    num_classes = _check_int('num_classes', num_classes, 1, len(_ACTIONS))
    subjects = _check_int('subjects', subjects, 2, 999)
    views = _check_int('views', views, 2, 999)
    reps = _check_int('reps', reps, 1, 999)
    seed = _check_int('seed', seed, 0)
    min_frames = _check_int('min_frames', min_frames, 8)
    max_frames = _check_int('max_frames', max_frames, min_frames)
    if view_yaws is None:
        view_yaws = np.linspace(-45.0, 45.0, views)
    if len(view_yaws) != views:
        raise ValueError(f'generate_synthetic_ntu: view_yaws must hold one yaw per view '
                         f'({views}), got {len(view_yaws)}')
    if not noise_std >= 0 or not 0 <= drop_prob <= 1:
        raise ValueError(f'generate_synthetic_ntu: noise_std must be >= 0 and drop_prob in '
                         f'[0, 1], got {noise_std!r} and {drop_prob!r}')

    def stream(*key):  # independent reproducible random stream per purpose
        return np.random.default_rng([seed, *key])

    performers = {s: (_Style(stream(1, s)), _Style(stream(2, s)))  # self, partner
                  for s in range(1, subjects + 1)}
    annotations, split = [], {k: [] for k in ('xsub_train', 'xsub_val', 'xview_train',
                                               'xview_val')}
    for label in range(num_classes):
        lo, hi = _ACTIONS[label][3]
        for subject in range(1, subjects + 1):
            for rep in range(1, reps + 1):
                rng = stream(3, label, subject, rep)
                styles = [p.varied(rng) for p in performers[subject]]
                T = int(np.clip(round(rng.uniform(lo, hi) * FPS / styles[0].tempo),
                                min_frames, max_frames))
                scene = _perform(label, T, rng, styles)
                for view in range(1, views + 1):
                    name = f'S001C{view:03d}P{subject:03d}R{rep:03d}A{label + 1:03d}'
                    kp = _view(scene, view_yaws[view - 1], stream(4, label, subject, rep, view),
                               noise_std, drop_prob)
                    annotations.append(dict(frame_dir=name, label=label, total_frames=T,
                                            keypoint=kp))
                    split['xsub_train' if subject % 2 else 'xsub_val'].append(name)
                    split['xview_val' if view == 1 else 'xview_train'].append(name)
    return dict(split=split, annotations=annotations)


def write_synthetic_ntu(path: str, **kwargs) -> Dict:
    """Generate (``kwargs`` as :func:`generate_synthetic_ntu`) and pickle to ``path``.

    Written atomically (:func:`gfp_mmaction.utils.atomic_write`): readers never see a
    partial file; parent folders are created.

    Returns:
        The generated dict.
    """
    data = generate_synthetic_ntu(**kwargs)
    atomic_write(path, pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL), fsync=False)
    return data
