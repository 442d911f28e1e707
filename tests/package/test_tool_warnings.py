"""mmcv-lite's import warning ("Fail to import ``MultiScaleDeformableAttention``") is
silenced for every process that imports the plugin, the tools included, and nothing else
is: gfp_mmaction.compat.silence_mmcv_lite_warning.

Subprocesses, because pytest.ini filters the same message inside the tests."""
import os
import subprocess
import sys

MESSAGE = 'Fail to import ``MultiScaleDeformableAttention``'
# One entry point of each folder (each tool imports gfp_mmaction before anything imports
# mmcv.cnn; a process costs about 4 s of imports).
TOOLS = ('tools/train.py', 'tools/data/check_skeleton_pkl.py', 'tools/analysis/get_flops.py')


def python(repo_root, *args):
    env = dict(os.environ, PYTHONWARNINGS='default')  # show every warning once
    return subprocess.Popen([sys.executable, *args], cwd=repo_root, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_tools_start_without_mmcv_lites_warning(repo_root):
    runs = {tool: python(repo_root, tool, '--help') for tool in TOOLS}
    for tool, run in runs.items():
        out, err = run.communicate(timeout=300)
        assert run.returncode == 0, err[-2000:]
        assert 'usage:' in out
        assert 'MultiScaleDeformableAttention' not in err, f'{tool}:\n{err[-2000:]}'


NARROWNESS = f'''
import warnings
with warnings.catch_warnings(record=True) as before:
    import mmcv.cnn.bricks.transformer  # mmcv-lite warns here (no plugin yet)
print('before', sum('MultiScaleDeformableAttention' in str(w.message) for w in before))
import gfp_mmaction
with warnings.catch_warnings(record=True) as after:
    for message, category, module in [
            ({MESSAGE!r} + ' from mmcv.ops', UserWarning, 'mmcv.cnn.bricks.transformer'),
            ('Fail to import ``Something`` else', UserWarning, 'mmcv.cnn.bricks.transformer'),
            ({MESSAGE!r}, UserWarning, 'my_package.module'),
            ({MESSAGE!r}, RuntimeWarning, 'mmcv.cnn.bricks.transformer')]:
        warnings.warn_explicit(message, category, 'f.py', 1, module=module)
for w in after:
    print('shown', w.category.__name__, w.message)
'''


def test_only_that_warning_from_that_module_is_filtered(repo_root):
    run = python(repo_root, '-c', NARROWNESS)
    out, err = run.communicate(timeout=300)
    assert run.returncode == 0, err[-2000:]
    lines = out.splitlines()
    assert lines[0] == 'before 1'  # the environment has mmcv-lite: the test means something
    assert lines[1:] == [
        'shown UserWarning Fail to import ``Something`` else',
        f'shown UserWarning {MESSAGE}',
        f'shown RuntimeWarning {MESSAGE}',
    ]
