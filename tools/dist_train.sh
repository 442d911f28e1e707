#!/usr/bin/env bash
# Data-parallel training with torchrun (torch.distributed.run), one process per GPU.
#
#   bash tools/dist_train.sh CONFIG GPUS [tools/train.py options]
#
# GPUS: processes on this machine. Without CUDA the processes train data-parallel on the
# CPU over gloo (e.g. GPUS=2 on a laptop or a CPU node).
# Multi-node: run the same command on every node, with the environment variables
#   NNODES       number of nodes (default 1)
#   NODE_RANK    this node's index, 0 .. NNODES-1 (default 0)
#   MASTER_ADDR  address of node 0 (default 127.0.0.1)
#   PORT         free TCP port on node 0 (default 29500)
#   PYTHON       interpreter that has the packages (default: python)
set -eo pipefail

if [ $# -lt 2 ]; then
    echo "usage: bash $0 CONFIG GPUS [tools/train.py options]" >&2
    exit 2
fi
CONFIG=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
PYTHON=${PYTHON:-python}
TOOLS_DIR=$(cd "$(dirname "$0")" && pwd)

export PYTHONPATH="$TOOLS_DIR/..${PYTHONPATH:+:$PYTHONPATH}"
exec "$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
    --master_port="$PORT" --nproc_per_node="$GPUS" \
    "$TOOLS_DIR/train.py" "$CONFIG" --launcher pytorch "${@:3}"
