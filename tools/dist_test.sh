#!/usr/bin/env bash
# Distributed testing with torchrun (torch.distributed.run), one process per GPU.
#
#   bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [tools/test.py options]
#
# Same environment variables as tools/dist_train.sh (NNODES, NODE_RANK, MASTER_ADDR, PORT,
# PYTHON); without CUDA the processes run on the CPU over gloo.
set -eo pipefail
# shellcheck source=tools/launch_common.sh
source "$(dirname "$0")/launch_common.sh"

require_args $# 3 'CONFIG CHECKPOINT GPUS [tools/test.py options]'
torchrun_launch "$3" test.py "$1" "$2" --launcher pytorch "${@:4}"
