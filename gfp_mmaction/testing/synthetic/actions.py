"""The action scripts of the synthetic NTU-style dataset and the assembly of a scene.

Each script takes ``(T, rng, styles)`` and returns ``(poses, gap)``: one
:class:`~.kinematics.Pose` per person and, for interactions, the initial distance
between the two performers (they face each other). :data:`ACTIONS` lists them with their
person count and duration; :func:`perform` turns one into joint positions.
"""
from typing import Callable, List, Sequence, Tuple

import numpy as np

from .kinematics import (
    FEET,
    FPS,
    NECK,
    NUM_JOINTS,
    R_ELB,
    R_HAND,
    R_WRI,
    Pose,
    Style,
    Timeline,
    euler_to_matrix,
    forward_kinematics,
    keyframes,
    pose_joints,
    smoothstep,
    yaw_matrix,
)

# --------------------------------------------------------------------------- actions
# Each action takes (T, rng, styles) and returns (poses, gap): one Pose per person and,
# for interactions, the initial distance between the two performers (they face each other).

def _wave(T, rng, st):
    p, tl = Pose(T), Timeline(T, rng, st[0].tempo, 2.0)
    e, a = tl.env, st[0].amp
    osc = np.sin(2 * np.pi * 2.0 * st[0].tempo * tl.t + st[0].phase)
    p.arm('r', flex=0.2 * e, abduct=1.3 * e)
    p.angles[:, R_ELB, 2] += e * (1.8 + 0.45 * a * osc)  # forearm up, swinging sideways
    p.angles[:, R_WRI, 2] += 0.2 * e * osc
    p.trunk(side=0.05 * e)
    return [p], None


def _kick(T, rng, st):
    p, tl = Pose(T), Timeline(T, rng, st[0].tempo, 1.2)
    a, k = st[0].amp, [0.0, 0.3, 0.5, 0.65, 1.0]
    p.leg('r', flex=a * keyframes(tl.s, k, [0, 0.9, 1.4, 0.6, 0]),
          knee=keyframes(tl.s, k, [0, 1.5, 0.1, 0.9, 0]))
    lean = keyframes(tl.s, k, [0, 0.1, 0.3, 0.1, 0])
    p.trunk(flex=-lean)
    p.arm('r', abduct=0.2 + lean)
    p.arm('l', abduct=0.2 + lean, flex=0.3 * lean)
    return [p], None


def _keyframed(movement: Callable, period_s: float, one_way: bool, times: Sequence[float],
               values: Sequence[float], **kwargs) -> Callable:
    """The action script of one performer doing ``movement(pose, amount, **kwargs)``, the
    amount being the style's amplitude times :func:`~.kinematics.keyframes` ``(times,
    values)`` over the whole active part (``one_way``, ``Timeline.u``) or over every
    repetition (``Timeline.s``) of ``period_s`` seconds at tempo 1."""
    def script(T, rng, st):
        p, tl = Pose(T), Timeline(T, rng, st[0].tempo, period_s)
        movement(p, st[0].amp * keyframes(tl.u if one_way else tl.s, times, values), **kwargs)
        return [p], None
    return script


def _crouch(p: Pose, d: np.ndarray, arm_flex: float) -> None:
    """Bend hips, knees, ankles and trunk by ``d`` (0 standing .. 1 deep), arms forward
    by ``arm_flex * d``: the pose of a squat and of sitting down."""
    for side in 'rl':
        p.leg(side, flex=1.1 * d, knee=1.8 * d, ankle=0.7 * d)
        p.arm(side, flex=arm_flex * d)
    p.trunk(flex=0.5 * d)


_squat = _keyframed(_crouch, 2.2, False, [0, 0.4, 0.6, 1.0], [0, 1, 1, 0], arm_flex=1.3)


def _jump(T, rng, st):
    p, tl = Pose(T), Timeline(T, rng, st[0].tempo, 1.3)
    a, k = st[0].amp, [0.0, 0.25, 0.38, 0.55, 0.72, 0.82, 1.0]
    crouch = keyframes(tl.s, k, [0, 1, 0, 0.2, 0, 0.7, 0])
    for side in 'rl':
        p.leg(side, flex=0.8 * crouch, knee=1.4 * crouch, ankle=0.5 * crouch)
        p.arm(side, flex=keyframes(tl.s, k, [0, -0.6, 2.4, 1.6, 0.8, 0.2, 0]))
    p.trunk(flex=0.4 * crouch)
    flight = np.clip((tl.s - 0.38) / (0.72 - 0.38), 0.0, 1.0)
    p.lift = 0.22 * a * 4.0 * flight * (1.0 - flight)  # ballistic arc
    return [p], None


def _bow(T, rng, st):
    p, tl = Pose(T), Timeline(T, rng, st[0].tempo, 2.6)
    b = st[0].amp * keyframes(tl.s, [0, 0.35, 0.6, 1.0], [0, 1, 1, 0])
    p.trunk(flex=1.0 * b)
    p.angles[:, NECK, 0] -= 0.3 * b
    for side in 'rl':
        p.arm(side, flex=0.8 * b, adduct_h=0.2 * b)  # arms hang
    return [p], None


def _static_joints(style: Style, pose: Pose) -> np.ndarray:
    """Joints ``(K, 25, 3)`` of the performer in ``pose`` (K frames) with the root at the
    origin; used to fit a movement to the performer's body before animating it."""
    return forward_kinematics(style.offsets, euler_to_matrix(pose.angles + style.posture),
                              pose.trans)


def _clap_closing(style: Style, flex: float, elbow: float) -> float:
    """Horizontal adduction at which this performer's palms meet (hand joints ~5 cm
    apart), found by evaluating candidate angles as the frames of one FK pass."""
    cand = np.linspace(0.0, 1.0, 101)
    p = Pose(len(cand))
    for side in 'rl':
        p.arm(side, flex=flex, elbow=elbow, adduct_h=cand)
    joints = _static_joints(style, p)
    apart = np.linalg.norm(joints[:, 11] - joints[:, 7], axis=-1)
    return float(cand[np.argmax(apart <= 0.05)])


def _clap(T, rng, st):
    p, tl = Pose(T), Timeline(T, rng, st[0].tempo, 2.0)
    e, closing = tl.env, _clap_closing(st[0], 1.0, 1.0)
    close = 0.5 + 0.5 * np.sin(2 * np.pi * 2.5 * st[0].tempo * tl.t + st[0].phase)
    for side in 'rl':
        # Hands meet at the performer's closing angle; how wide they open is the style.
        p.arm(side, flex=1.0 * e, elbow=1.0 * e,
              adduct_h=e * (closing - 0.45 * st[0].amp * (1.0 - close)))
    return [p], None


def _lift_arms(p: Pose, r: np.ndarray) -> None:
    """Both arms up sideways by ``r`` (0 down .. 1 overhead), looking up."""
    for side in 'rl':
        p.arm(side, abduct=2.6 * r, flex=0.3 * r, elbow=-0.1 * r)
    p.angles[:, NECK, 0] += 0.2 * r  # look up


_arms_raise = _keyframed(_lift_arms, 1.8, False, [0, 0.4, 0.6, 1.0], [0, 1, 1, 0])


def _punch(T, rng, st):
    p, tl = Pose(T), Timeline(T, rng, st[0].tempo, 0.8)
    g, a = smoothstep(tl.env * 3.0), st[0].amp  # guard up quickly
    hit = keyframes(tl.s, [0, 0.3, 0.45, 1.0], [0, 1, 1, 0]) * g
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
    p, tl = Pose(T), Timeline(T, rng, st[0].tempo, 1.6)
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
    return dist * smoothstep((u - u0) / (u1 - u0))


def _offer_hand(p: Pose, reach, flex=1.0):
    p.arm('r', flex=flex * reach, elbow=0.4 * reach, adduct_h=0.3 * reach)
    p.trunk(flex=0.1 * reach)


def _fit_handshake(styles: Sequence[Style]) -> Tuple[List[float], float]:
    """Shoulder flexion per performer so both right hands are at one height, and the
    distance between the two roots at which the hands then meet."""
    cand = np.linspace(0.6, 1.4, 81)
    hands = []  # (K, 3) right hand over candidate flexions, above the floor
    for s in styles:
        offer = Pose(len(cand))
        _offer_hand(offer, 1.0, cand)
        joints = _static_joints(s, offer)
        hands.append(joints[:, R_HAND] - [0.0, joints[:, FEET, 1].min(), 0.0])
    height = np.mean([h[40, 1] for h in hands])  # both meet at their mean height
    best = [int(np.argmin(np.abs(h[:, 1] - height))) for h in hands]
    meet = -sum(h[i, 2] for h, i in zip(hands, best))  # sum of forward (-z) reaches
    return [float(cand[i]) for i in best], meet


def _handshake(T, rng, st):
    tl = Timeline(T, rng, st[0].tempo, 4.0)
    gap = rng.uniform(1.6, 2.1)
    flexes, meet = _fit_handshake(st)
    meet += rng.uniform(-0.02, 0.04)
    reach = keyframes(tl.u, [0, 0.35, 0.45, 0.75, 0.85, 1.0], [0, 0, 1, 1, 0, 0])
    shake = np.sin(2 * np.pi * 3.0 * st[0].tempo * tl.t) * keyframes(
        tl.u, [0, 0.45, 0.5, 0.7, 0.75, 1.0], [0, 0, 1, 1, 0, 0])
    poses = []
    for s, flex in zip(st, flexes):
        p = Pose(T)
        back = _approach(tl.u, -0.3 * rng.uniform(0.5, 1.0), 0.85, 1.0)
        p.walk(_approach(tl.u, (gap - meet) / 2, 0.05, 0.38) + back, step=0.35)
        _offer_hand(p, reach, flex)
        p.angles[:, R_ELB, 0] += 0.2 * s.amp * shake
        poses.append(p)
    return poses, gap


def _push(T, rng, st):
    tl = Timeline(T, rng, st[0].tempo, 3.0)
    gap, a = rng.uniform(1.4, 1.9), st[0].amp
    pusher, pushed = Pose(T), Pose(T)
    pusher.walk(_approach(tl.u, gap - 0.75, 0.0, 0.4), step=0.35)
    arms = keyframes(tl.u, [0, 0.3, 0.45, 0.8, 1.0], [0, 0, 1, 1, 0])
    shove = keyframes(tl.u, [0, 0.45, 0.58, 0.8, 1.0], [0, 0, 1, 1, 0])
    for side in 'rl':
        pusher.arm(side, flex=1.3 * arms, elbow=1.0 * arms - 0.9 * shove, adduct_h=0.1)
    pusher.trunk(flex=0.25 * shove)
    # The pushed one turns to face the pusher, is shoved back and staggers.
    pushed.walk(_approach(tl.u, 0.15, 0.1, 0.35), step=0.3)
    hit = keyframes(tl.u, [0, 0.5, 0.62, 0.8, 1.0], [0, 0, 1, 0.6, 0.2])
    pushed.trans[:, 2] += a * rng.uniform(0.35, 0.6) * smoothstep((tl.u - 0.5) / 0.2)
    pushed.trunk(flex=-0.35 * hit)
    for side in 'rl':
        pushed.arm(side, abduct=0.6 * hit, flex=0.4 * hit)
    return [pusher, pushed], gap


def _hug(T, rng, st):
    tl = Timeline(T, rng, st[0].tempo, 4.0)
    gap = rng.uniform(1.6, 2.1)
    open_ = keyframes(tl.u, [0, 0.2, 0.38, 0.48, 1.0], [0, 0, 1, 0, 0])
    wrap = keyframes(tl.u, [0, 0.38, 0.48, 0.75, 0.88, 1.0], [0, 0, 1, 1, 0, 0])
    poses = []
    for k, s in enumerate(st):
        p = Pose(T)
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
_sit_down = _keyframed(_crouch, 3.0, True, [0, 0.1, 0.55, 1.0], [0, 0, 1, 1], arm_flex=0.9)
_arms_up = _keyframed(_lift_arms, 3.0, True, [0, 0.1, 0.5, 1.0], [0, 0, 1, 1])


def _walk_towards(T, rng, st):
    tl = Timeline(T, rng, st[0].tempo, 3.0)
    gap = rng.uniform(2.6, 3.4)
    poses = []
    for s in st:
        p = Pose(T)
        p.walk(_approach(tl.u, s.amp * (gap - 1.0) / 2, 0.05, 0.85), step=0.35)
        poses.append(p)
    return poses, gap


ACTIONS: List[Tuple[str, Callable, int, Tuple[float, float], bool]] = [
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
SYNTHETIC_NTU_CLASSES = tuple(a[0] for a in ACTIONS)

__all__ = ['ACTIONS', 'SYNTHETIC_NTU_CLASSES', 'perform']


# --------------------------------------------------------------------------- assembly
def perform(label: int, T: int, rng: np.random.Generator,
             styles: Sequence[Style]) -> np.ndarray:
    """One performance in scene coordinates (floor at y = 0, centred on x = z = 0).

    Args:
        label (int): the action, an index into :data:`ACTIONS`.
        T (int): frames.
        rng (np.random.Generator): the generator of every random draw.
        styles (Sequence[Style]): the performers, one per person of the action (the
            first ``M`` are used).

    Returns:
        np.ndarray: ``(M, T, 25, 3)`` float64.
    """
    _, script, persons, _, backwards = ACTIONS[label]
    poses, gap = script(T, rng, styles[:persons])
    out = np.empty((persons, T, NUM_JOINTS, 3))
    for k, (pose, style) in enumerate(zip(poses, styles)):
        joints = pose_joints(pose, style, rng)
        if gap is not None:  # interaction: face each other across the gap along x
            yaw = -np.pi / 2 if k == 0 else np.pi / 2
            joints = joints @ yaw_matrix(yaw).T
            joints[..., 0] += -gap / 2 if k == 0 else gap / 2
        out[k] = joints
    # A one-way action played backwards is its opposite: the exact time reversal.
    return np.ascontiguousarray(out[:, ::-1]) if backwards else out
