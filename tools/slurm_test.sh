#!/usr/bin/env bash
# Testing on a Slurm cluster, one task per GPU (MMEngine's `slurm` launcher).
#
#   [GPUS=8 GPUS_PER_NODE=8] bash tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT \
#       [tools/test.py options]
#
# Same environment variables as tools/slurm_train.sh (GPUS, GPUS_PER_NODE, CPUS_PER_TASK,
# GRES, PORT, SRUN_ARGS, PYTHON).
set -eo pipefail
# shellcheck source=tools/launch_common.sh
source "$(dirname "$0")/launch_common.sh"

require_args $# 4 'PARTITION JOB_NAME CONFIG CHECKPOINT [tools/test.py options]'
srun_launch "$1" "$2" test.py "$3" "$4" --launcher=slurm "${@:5}"
