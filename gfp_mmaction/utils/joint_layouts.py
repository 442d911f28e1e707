"""Joint layouts: how many joints a skeleton has, which one the clips are centred on, which
are left / right of each other and which are joined by a bone.

Two layouts are built in:

- ``'ntu25'``: NTU RGB+D's 25 Kinect joints (the 3D pickles, PKU-MMD), centred on joint 1,
  the spine-middle, as SGN and MAMP centre them;
- ``'coco17'``: the 17 COCO keypoints that MMPose estimates (MMAction2's 2D pickles such
  as ``ntu60_2d.pkl``), centred on joint 11, the left hip: COCO-17 has no spine joint,
  and a hip is the joint nearest the body's centre (the origin only fixes a translation
  of the whole clip, so any joint present in the first frame would do).

A layout of your own is a dict with the same fields, given where a layout is taken
(``SkeletonPoseDataset(layout=dict(...))``, ``tools/visualize_masking.py --layout``
through a registered name), or registered once by name with :func:`register_layout`::

    register_layout(dict(name='openpose18', num_joints=18, centre_joint=1,
                         pairs=[(5, 2), (6, 3), (7, 4), (11, 8), (12, 9), (13, 10),
                                (15, 14), (17, 16)],
                         edges=[(0, 1), (1, 2), (2, 3), (3, 4), (1, 5), (5, 6), (6, 7),
                                (1, 8), (8, 9), (9, 10), (1, 11), (11, 12), (12, 13),
                                (0, 14), (14, 16), (0, 15), (15, 17)]))

No model knowledge here: the models take ``num_joints`` and ``in_channels`` numbers, the
data side takes the layout (the dataset's joint count, the centring joint, the pictures'
bones).
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple, Union

__all__ = ['JointLayout', 'LAYOUTS', 'register_layout', 'get_layout', 'layouts_with',
           'guess_layout']


def _pairs(value, what: str, name: str) -> Tuple[Tuple[int, int], ...]:
    try:
        pairs = tuple((int(a), int(b)) for a, b in value)
    except (TypeError, ValueError):
        raise ValueError(f'JointLayout {name!r}: {what} must be a sequence of (joint, joint) '
                         f'index pairs, got {value!r}') from None
    return pairs


@dataclass(frozen=True)
class JointLayout:
    """One skeleton's joints.

    Args:
        name (str): the layout's name (``'ntu25'``, ``'coco17'``, yours).
        num_joints (int): joints per person ``V``.
        centre_joint (int): the joint each clip is centred on (the origin is this joint in
            the first frame where the first present person is recorded).
        pairs (Sequence[tuple[int, int]]): ``(left, right)`` joints that mirror each other,
            used by the pictures (and available to a flip augmentation).
        edges (Sequence[tuple[int, int]]): the bones drawn between joints.
        joint_names (Sequence[str], optional): one name per joint; ``'joint k'`` when
            not given.

    Raises:
        ValueError: a joint index outside ``[0, num_joints)``, a bone from a joint to
            itself, a joint in two pairs, or as many names as joints missing.
    """
    name: str
    num_joints: int
    centre_joint: int
    pairs: Tuple[Tuple[int, int], ...] = ()
    edges: Tuple[Tuple[int, int], ...] = ()
    joint_names: Tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        name = self.name
        if not isinstance(name, str) or not name:
            raise ValueError(f'JointLayout: name must be a non-empty str, got {name!r}')
        if not isinstance(self.num_joints, int) or isinstance(self.num_joints, bool) or \
                self.num_joints < 1:
            raise ValueError(f'JointLayout {name!r}: num_joints must be a positive int, got '
                             f'{self.num_joints!r}')
        V = self.num_joints
        pairs, edges = _pairs(self.pairs, 'pairs', name), _pairs(self.edges, 'edges', name)
        object.__setattr__(self, 'pairs', pairs)
        object.__setattr__(self, 'edges', edges)
        object.__setattr__(self, 'joint_names', tuple(str(n) for n in self.joint_names))
        if not isinstance(self.centre_joint, int) or not 0 <= self.centre_joint < V:
            raise ValueError(f'JointLayout {name!r}: centre_joint must be a joint index in '
                             f'[0, {V}), got {self.centre_joint!r}')
        for what, items in (('pairs', pairs), ('edges', edges)):
            bad = [p for p in items if not (0 <= p[0] < V and 0 <= p[1] < V) or p[0] == p[1]]
            if bad:
                raise ValueError(f'JointLayout {name!r}: {what} {bad} are not pairs of two '
                                 f'different joints in [0, {V})')
        paired = [j for p in pairs for j in p]
        if len(paired) != len(set(paired)):
            raise ValueError(f'JointLayout {name!r}: a joint appears in two left/right pairs: '
                             f'{pairs}')
        if self.joint_names and len(self.joint_names) != V:
            raise ValueError(f'JointLayout {name!r}: {len(self.joint_names)} joint names for '
                             f'{V} joints')

    def joint_name(self, joint: int) -> str:
        """The name of ``joint`` (``'joint k'`` when the layout has no names)."""
        return self.joint_names[joint] if self.joint_names else f'joint {joint}'

    def to_dict(self) -> Dict:
        """The layout as a plain dict (the form a config holds)."""
        return dict(name=self.name, num_joints=self.num_joints, centre_joint=self.centre_joint,
                    pairs=[list(p) for p in self.pairs], edges=[list(e) for e in self.edges],
                    joint_names=list(self.joint_names))


LayoutSpec = Union[str, dict, JointLayout]

# NTU RGB+D's 24 bones between its 25 joints, 1-based as in the dataset's documentation.
_NTU_BONES_1 = ((1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21),
                (10, 9), (11, 10), (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1),
                (18, 17), (19, 18), (20, 19), (22, 23), (23, 8), (24, 25), (25, 12))

NTU25 = JointLayout(
    name='ntu25', num_joints=25, centre_joint=1,
    pairs=((4, 8), (5, 9), (6, 10), (7, 11), (12, 16), (13, 17), (14, 18), (15, 19),
           (21, 23), (22, 24)),
    edges=tuple((a - 1, b - 1) for a, b in _NTU_BONES_1),
    joint_names=('spine-base', 'spine-mid', 'neck', 'head', 'l-shoulder', 'l-elbow',
                 'l-wrist', 'l-hand', 'r-shoulder', 'r-elbow', 'r-wrist', 'r-hand', 'l-hip',
                 'l-knee', 'l-ankle', 'l-foot', 'r-hip', 'r-knee', 'r-ankle', 'r-foot',
                 'spine-shoulder', 'l-hand-tip', 'l-thumb', 'r-hand-tip', 'r-thumb'))

# COCO-17 in MMPose's order; the bones of MMAction2's 'coco' graph layout
# (mmaction/models/utils/graph.py), the left/right pairs of MMPose's flip pairs.
COCO17 = JointLayout(
    name='coco17', num_joints=17, centre_joint=11,
    pairs=((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)),
    edges=((15, 13), (13, 11), (16, 14), (14, 12), (11, 5), (12, 6), (9, 7), (7, 5),
           (10, 8), (8, 6), (5, 0), (6, 0), (1, 0), (3, 1), (2, 0), (4, 2)),
    joint_names=('nose', 'l-eye', 'r-eye', 'l-ear', 'r-ear', 'l-shoulder', 'r-shoulder',
                 'l-elbow', 'r-elbow', 'l-wrist', 'r-wrist', 'l-hip', 'r-hip', 'l-knee',
                 'r-knee', 'l-ankle', 'r-ankle'))

#: Every registered layout by name.
LAYOUTS: Dict[str, JointLayout] = {NTU25.name: NTU25, COCO17.name: COCO17}


def _build(spec: Union[dict, JointLayout]) -> JointLayout:
    if isinstance(spec, JointLayout):
        return spec
    unknown = set(spec) - set(JointLayout.__dataclass_fields__)
    if unknown:
        raise ValueError(f'joint layout {spec.get("name", "<unnamed>")!r}: unknown fields '
                         f'{sorted(unknown)}; a layout has name, num_joints, centre_joint, '
                         'pairs, edges and joint_names')
    missing = [k for k in ('name', 'num_joints', 'centre_joint') if k not in spec]
    if missing:
        raise ValueError(f'joint layout {spec.get("name", "<unnamed>")!r}: missing fields '
                         f'{missing}')
    return JointLayout(**spec)


def register_layout(layout: Union[dict, JointLayout], overwrite: bool = False) -> JointLayout:
    """Register a layout under its name so that configs and tools can name it.

    Args:
        layout (dict | JointLayout): a :class:`JointLayout` or a dict of its fields.
        overwrite (bool): replace a registered layout of the same name (the built-in ones
            included). Defaults to False.

    Returns:
        JointLayout: the registered layout.

    Raises:
        ValueError: the layout is invalid, or its name is taken and ``overwrite`` is False.
    """
    layout = _build(layout)
    if layout.name in LAYOUTS and not overwrite and LAYOUTS[layout.name] != layout:
        raise ValueError(f'joint layout {layout.name!r} is already registered (a different '
                         'one); pass overwrite=True to replace it or choose another name')
    LAYOUTS[layout.name] = layout
    return layout


def get_layout(spec: LayoutSpec) -> JointLayout:
    """The layout a config names: a registered name, a dict of fields (a layout of your
    own, not registered) or a :class:`JointLayout`.

    Raises:
        KeyError: an unknown name (the message lists the registered ones).
        ValueError: an invalid dict.
    """
    if isinstance(spec, str):
        if spec not in LAYOUTS:
            raise KeyError(f'unknown joint layout {spec!r}; registered: '
                           f'{", ".join(sorted(LAYOUTS))} (add yours with '
                           'gfp_mmaction.utils.joint_layouts.register_layout, or give a dict '
                           'with name, num_joints, centre_joint, pairs, edges)')
        return LAYOUTS[spec]
    if isinstance(spec, (dict, JointLayout)):
        return _build(dict(spec) if isinstance(spec, dict) else spec)
    raise TypeError(f'a joint layout is a name, a dict or a JointLayout, got '
                    f'{type(spec).__name__} {spec!r}')


def layouts_with(num_joints: int) -> List[JointLayout]:
    """The registered layouts with ``num_joints`` joints, in registration order."""
    return [layout for layout in LAYOUTS.values() if layout.num_joints == num_joints]


def guess_layout(num_joints: int) -> Optional[JointLayout]:
    """The one registered layout with ``num_joints`` joints; None when there is no such
    layout or more than one (a joint count alone cannot tell them apart)."""
    found = layouts_with(num_joints)
    return found[0] if len(found) == 1 else None
