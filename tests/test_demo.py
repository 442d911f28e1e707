"""The README's main command, in its quick form: the whole demo path end to end."""
import json
import subprocess
import sys


def test_quick_demo_runs_every_stage(repo_root, tmp_path):
    work_dir = tmp_path / 'demo'
    out = subprocess.run([sys.executable, 'tools/demo.py', '--quick', '--work-dir',
                          str(work_dir)], cwd=repo_root, capture_output=True, text=True,
                         timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    table = out.stdout[out.stdout.index('Frozen encoders'):]
    assert 'GFP pre-trained' in table and 'random weights' in table
    summary = json.loads((work_dir / 'summary.json').read_text())
    assert [row['encoder'] for row in summary['encoders']] == ['GFP pre-trained',
                                                               'random weights']
    for row in summary['encoders']:
        assert 0.0 <= row['linear_top1'] <= 1.0 and 0.0 <= row['retrieval_top1'] <= 1.0
    for picture in summary['pictures'].values():
        assert open(picture, 'rb').read(8) == b'\x89PNG\r\n\x1a\n'
    assert (work_dir / 'pretrain' / 'last_checkpoint').is_file()
