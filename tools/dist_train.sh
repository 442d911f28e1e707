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
# shellcheck source=tools/launch_common.sh
source "$(dirname "$0")/launch_common.sh"

require_args $# 2 'CONFIG GPUS [tools/train.py options]'
torchrun_launch "$2" train.py "$1" --launcher pytorch "${@:3}"
