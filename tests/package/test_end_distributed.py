"""``compat.end_distributed``: every rank of a real 2-process gloo group ends cleanly,
whichever rank reaches the end last, and none leaves before all have arrived.

The processes rendezvous over ``env://`` with rank 0 hosting the store, as MMEngine's
slurm launcher sets them up (torchrun's agent hosts it instead, the easier case).
"""
import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

WORKER = textwrap.dedent('''
    import json, os, sys, time
    import torch, torch.distributed as dist
    from gfp_mmaction.compat import end_distributed

    rank, late = int(os.environ['RANK']), int(sys.argv[2])
    dist.init_process_group('gloo')
    total = torch.full((4,), float(rank + 1))
    dist.all_reduce(total)
    if rank == late:
        time.sleep(1.0)
    arrived = time.time()
    end_distributed()
    left = time.time()
    end_distributed()  # a second call, or one without a group, does nothing
    with open(os.path.join(sys.argv[1], f'rank{rank}.json'), 'w') as f:
        json.dump(dict(sum=total.tolist(), arrived=arrived, left=left,
                       initialized=dist.is_initialized()), f)
''')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.mark.parametrize('late', [0, 1])
def test_every_rank_ends_cleanly_and_none_before_all_arrived(tmp_path, late):
    script = tmp_path / 'worker.py'
    script.write_text(WORKER)
    port = free_port()
    procs = []
    for rank in range(2):
        env = dict(os.environ, RANK=str(rank), WORLD_SIZE='2', MASTER_ADDR='127.0.0.1',
                   MASTER_PORT=str(port), OMP_NUM_THREADS='1')
        procs.append(subprocess.Popen([sys.executable, str(script), str(tmp_path), str(late)],
                                      env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True))
    for rank, proc in enumerate(procs):
        output = proc.communicate(timeout=120)[0]
        assert proc.returncode == 0, f'rank {rank} ended with {proc.returncode}:\n{output}'
    ranks = [json.loads((tmp_path / f'rank{r}.json').read_text()) for r in range(2)]
    for r in ranks:
        assert r['sum'] == [3.0] * 4 and r['initialized'] is False
    # No rank tears its group down before the late one has arrived at the end.
    last_arrival = ranks[late]['arrived']
    assert all(r['left'] >= last_arrival for r in ranks)
