#!/usr/bin/env bash
# Training on a Slurm cluster: srun starts one task per GPU, MMEngine's `slurm` launcher
# reads the SLURM_* variables (rank, world size, node list) in every task.
#
#   [GPUS=16 GPUS_PER_NODE=8] bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG \
#       [tools/train.py options]
#
# Environment variables:
#   GPUS           tasks (= GPUs) in total (default 8)
#   GPUS_PER_NODE  tasks per node (default 8)
#   CPUS_PER_TASK  CPU cores per task, for the data-loader workers (default 5)
#   GRES           generic resources per node (default gpu:$GPUS_PER_NODE); set GRES=none
#                  on a CPU partition: the tasks then train on the CPU over gloo
#   PORT           rendezvous port on the first node (default: random in 12000-31999)
#   SRUN_ARGS      extra srun options, e.g. "--quotatype=auto --time=72:00:00"
#   PYTHON         interpreter that has the packages (default: python)
set -eo pipefail
# shellcheck source=tools/launch_common.sh
source "$(dirname "$0")/launch_common.sh"

require_args $# 3 'PARTITION JOB_NAME CONFIG [tools/train.py options]'
srun_launch "$1" "$2" train.py "$3" --launcher=slurm "${@:4}"
