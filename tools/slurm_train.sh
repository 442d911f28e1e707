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

if [ $# -lt 3 ]; then
    echo "usage: bash $0 PARTITION JOB_NAME CONFIG [tools/train.py options]" >&2
    exit 2
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
GRES=${GRES-gpu:$GPUS_PER_NODE}
[ "$GRES" = none ] && GRES=
SRUN_ARGS=${SRUN_ARGS:-}
PYTHON=${PYTHON:-python}
TOOLS_DIR=$(cd "$(dirname "$0")" && pwd)

export MASTER_PORT=${PORT:-$((12000 + RANDOM % 20000))}
export PYTHONPATH="$TOOLS_DIR/..${PYTHONPATH:+:$PYTHONPATH}"
# SRUN_ARGS is split into words on purpose.
# shellcheck disable=SC2086
exec srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    ${GRES:+--gres="$GRES"} \
    --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    $SRUN_ARGS \
    "$PYTHON" -u "$TOOLS_DIR/train.py" "$CONFIG" --launcher=slurm "${@:4}"
