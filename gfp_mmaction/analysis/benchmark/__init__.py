"""The pre-training throughput benchmark behind ``tools/analysis/benchmark_pretrain.py``.

- :mod:`.data`: the synthetic NTU-sized annotation files, cached;
- :mod:`.build`: the config, optimizer wrapper and collate function as training builds them;
- :mod:`.subject`: one config under test, its timed phases and figures;
- :mod:`.profiling`: the data-path stages and ``torch.profiler`` tables;
- :mod:`.report`: the printed tables and the JSON records;
- :mod:`.run`: from the parsed options to the report.
"""
from .build import config_collate, load_config, make_optim_wrapper, short_names
from .data import NTU60_XSUB_TRAIN_CLIPS, annotation_file, training_set
from .profiling import DEVICE_STAGE, profile_data_path, profile_steps
from .report import machine_line, results_table, write_records
from .run import run_benchmark
from .subject import Subject

__all__ = ['config_collate', 'load_config', 'make_optim_wrapper', 'short_names',
           'NTU60_XSUB_TRAIN_CLIPS', 'annotation_file', 'training_set', 'DEVICE_STAGE',
           'profile_data_path', 'profile_steps', 'machine_line', 'results_table',
           'write_records', 'run_benchmark', 'Subject']
