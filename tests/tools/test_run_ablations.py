"""tools/analysis/run_ablations.py: the records it keeps and the table it prints from
them, against hand-computed statistics."""
import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope='module')
def tool():
    path = REPO / 'tools' / 'analysis' / 'run_ablations.py'
    spec = importlib.util.spec_from_file_location('gfp_tool_run_ablations', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def record(variant, seed, linear, knn, seconds=100.0):
    return dict(variant=variant, seed=seed, linear=linear, knn=knn, train_seconds=seconds)


def cells(table: str, variant: str) -> list:
    row = next(line for line in table.splitlines() if line.startswith(f'| {variant} |'))
    return [c.strip() for c in row.strip('|').split('|')]


def test_records_append_and_the_table_pairs_seeds(tool, tmp_path):
    for r in [record('gfp', 0, 50.0, 20.0), record('tgn_norm_none', 1, 61.0, 29.0),
              record('gfp', 1, 60.0, 30.0), record('tgn_norm_none', 0, 55.0, 22.0),
              record('tgn_concat', 2, 70.0, 40.0), record('mamp', 0, 41.0, 17.0, 90.0)]:
        tool.save_result(tmp_path, r)
    assert [(r['variant'], r['seed']) for r in tool.load_results(tmp_path)][:2] == [
        ('gfp', 0), ('tgn_norm_none', 1)]
    table = tool.table(tmp_path)

    # gfp: 50, 60 -> mean 55, sample std sqrt(50) = 7.07; 1-NN 20, 30 the same.
    gfp = cells(table, 'gfp')
    assert gfp[2:8] == ['2 (0, 1)', '55.0 ± 7.1', '25.0 ± 7.1', '-', '-',
                        '50.0 / 20.0, 60.0 / 30.0']
    # tgn_norm_none: 55, 61 -> 58.0 ± 4.2; paired with gfp by seed: 55 - 50 = 5 and
    # 61 - 60 = 1 -> 3.0 ± 2.8 (not 58 - 55 with the unpaired spreads); 1-NN 2 and -1
    # -> 0.5 ± 2.1.
    none = cells(table, 'tgn_norm_none')
    assert none[2:8] == ['2 (0, 1)', '58.0 ± 4.2', '25.5 ± 4.9', '3.0 ± 2.8', '0.5 ± 2.1',
                         '55.0 / 22.0, 61.0 / 29.0']
    # A variant with no seed in common with gfp has no difference to show.
    assert cells(table, 'tgn_concat')[5:7] == ['-', '-']
    assert cells(table, 'mamp')[5:7] == ['-9.0 ± 0.0', '-3.0 ± 0.0']
    assert cells(table, 'mamp')[8] == '90.0 ± 0.0'
    # Rows follow the variants' order, not the records'.
    order = [line.split('|')[1].strip() for line in table.splitlines()[2:]]
    assert order == ['gfp', 'tgn_norm_none', 'tgn_concat', 'mamp']


def test_mamp_gets_the_wall_time_of_the_gfp_run_of_its_seed(tool, tmp_path):
    tool.save_result(tmp_path, dict(record('gfp', 3, 70.0, 40.0), epochs=40))
    (tmp_path / 'time_ratio.json').write_text(json.dumps(dict(gfp_over_mamp=0.27)))
    assert tool.mamp_epochs(tmp_path, 3, 40) == 11  # round(40 x 0.27 = 10.8)
    with pytest.raises(SystemExit, match='mamp seed 4 needs the gfp run'):
        tool.mamp_epochs(tmp_path, 4, 40)
