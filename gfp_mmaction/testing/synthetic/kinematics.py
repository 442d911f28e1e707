"""Skeleton kinematics of the synthetic NTU-style performers (pure numpy).

NTU's 25 Kinect joints as a kinematic tree (:data:`NTU_PARENTS`) with the bone offsets of
a 1.0-scale adult (:data:`REST_OFFSETS`), driven by per-frame local joint rotations
through :func:`forward_kinematics`; the timing helpers (:class:`Timeline`,
:func:`keyframes`), a performer (:class:`Style`) and per-frame joint angles
(:class:`Pose`) that the action scripts of :mod:`.actions` write into.

Body frame: ``x`` the performer's right, ``y`` up, the performer faces ``-z``.
"""
import copy
from typing import List, Sequence

import numpy as np

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
REST_OFFSETS = np.array([
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
FEET = [14, 15, 18, 19]
FOOT_CLEARANCE = 0.04  # height of the lowest foot joint above the floor (m)
# Joints that Kinect loses most often (extremities); never the torso joints that
# PreNormalize3D aligns with.
DROPPABLE = [3, 6, 7, 10, 11, 14, 15, 18, 19, 21, 22, 23, 24]


# --------------------------------------------------------------------------- geometry
def euler_to_matrix(angles: np.ndarray) -> np.ndarray:
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


def yaw_matrix(yaw: float) -> np.ndarray:
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def forward_kinematics(offsets: np.ndarray, local_rot: np.ndarray,
                       root_pos: np.ndarray) -> np.ndarray:
    """Joint positions from bone offsets and per-frame local rotations.

    A joint's rotation turns the bones of all its descendants:
    ``pos[j] = pos[parent] + G[parent] @ offsets[j]`` with ``G[j] = G[parent] @ R[j]``.

    Args:
        offsets (np.ndarray): ``(25, 3)`` rest offset of every joint from its parent
            (root's unused).
        local_rot (np.ndarray): ``(T, 25, 3, 3)`` local rotation of every joint.
        root_pos (np.ndarray): ``(T, 3)`` position of the root (spine base).

    Returns:
        np.ndarray: ``(T, 25, 3)`` joint positions; vectorised over frames.
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
def smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def keyframes(s: np.ndarray, knots: Sequence[float], values: Sequence[float]) -> np.ndarray:
    """Eased interpolation of keyframes ``values`` at phases ``knots`` (both ``(K,)``)."""
    knots, values = np.asarray(knots, float), np.asarray(values, float)
    i = np.clip(np.searchsorted(knots, s, side='right') - 1, 0, len(knots) - 2)
    w = smoothstep((s - knots[i]) / (knots[i + 1] - knots[i]))
    return values[i] + (values[i + 1] - values[i]) * w


class Timeline:
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
        self.env = smoothstep((i - a0) / ramp) * smoothstep((a1 - i) / ramp)


# --------------------------------------------------------------------------- performers
class Style:
    """One performer: skeleton size and how they move (tempo, amplitude, posture)."""

    def __init__(self, rng: np.random.Generator):
        height = rng.uniform(0.88, 1.05)
        bone = rng.normal(1.0, 0.03, size=(NUM_JOINTS, 1))
        bone[[4, 8]] = bone[4] * rng.uniform(0.9, 1.1)  # symmetric shoulder width
        self.offsets = REST_OFFSETS * height * bone
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

    def varied(self, rng: np.random.Generator) -> 'Style':
        """The same performer on another take: tempo and amplitude vary a little."""
        take = copy.copy(self)
        take.tempo = self.tempo * rng.normal(1.0, 0.06)
        take.amp = self.amp * rng.normal(1.0, 0.05)
        return take


class Pose:
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


def pose_joints(pose: Pose, style: Style, rng: np.random.Generator) -> np.ndarray:
    """Joint positions of ``style``'s performer in ``pose``, standing on the floor.

    Nobody stands perfectly still: a slow sway of the body and the head (drawn from
    ``rng``) is added to the pose's angles; then forward kinematics, and the lowest foot
    joint rests :data:`FOOT_CLEARANCE` above the floor (``y = 0``) in every frame, raised
    by ``pose.lift``.

    Args:
        pose (Pose): per-frame joint angles, root translation and lift (``T`` frames).
        style (Style): the performer (bone offsets and posture).
        rng (np.random.Generator): draws the sway.

    Returns:
        np.ndarray: ``(T, 25, 3)`` float64 in the body frame.
    """
    T = pose.angles.shape[0]
    t = np.arange(T) / FPS
    sway = np.zeros((T, NUM_JOINTS, 3))
    for j, amp in ((ROOT, 0.015), (NECK, 0.03)):
        f, ph = rng.uniform(0.15, 0.5, 3), rng.uniform(0, 2 * np.pi, 3)
        sway[:, j] = amp * np.sin(2 * np.pi * f * t[:, None] + ph)
    rot = euler_to_matrix(pose.angles + style.posture + sway)
    joints = forward_kinematics(style.offsets, rot, pose.trans)
    joints[..., 1] += FOOT_CLEARANCE - joints[:, FEET, 1].min(1, keepdims=True)
    joints[..., 1] += pose.lift[:, None]
    return joints
