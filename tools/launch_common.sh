# What tools/dist_train.sh, dist_test.sh, slurm_train.sh and slurm_test.sh share; they
# source this file (it is not run on its own). Each script checks its arguments and
# calls one launcher with the tool to start and that tool's arguments:
#
#   require_args NARGS MIN USAGE           usage message and exit 2 when NARGS < MIN
#   torchrun_launch NPROC TOOL ARGS...     torchrun, NPROC processes on this machine
#   srun_launch PARTITION JOB_NAME TOOL ARGS...
#                                          srun, one task per GPU
#
# TOOL is a script of tools/ (train.py, test.py). The environment variables each
# launcher reads are listed in tools/dist_train.sh and tools/slurm_train.sh.

TOOLS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

require_args() {
    if [ "$1" -lt "$2" ]; then
        echo "usage: bash $0 $3" >&2
        exit 2
    fi
}

# The interpreter, and this checkout first on its import path.
_python_env() {
    PYTHON=${PYTHON:-python}
    export PYTHONPATH="$TOOLS_DIR/..${PYTHONPATH:+:$PYTHONPATH}"
}

torchrun_launch() {
    GPUS=$1
    local tool=$2
    shift 2
    NNODES=${NNODES:-1}
    NODE_RANK=${NODE_RANK:-0}
    PORT=${PORT:-29500}
    MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
    _python_env
    exec "$PYTHON" -m torch.distributed.run \
        --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
        --master_port="$PORT" --nproc_per_node="$GPUS" \
        "$TOOLS_DIR/$tool" "$@"
}

srun_launch() {
    local partition=$1 job_name=$2 tool=$3
    shift 3
    GPUS=${GPUS:-8}
    GPUS_PER_NODE=${GPUS_PER_NODE:-8}
    CPUS_PER_TASK=${CPUS_PER_TASK:-5}
    GRES=${GRES-gpu:$GPUS_PER_NODE}
    [ "$GRES" = none ] && GRES=
    SRUN_ARGS=${SRUN_ARGS:-}
    _python_env
    export MASTER_PORT=${PORT:-$((12000 + RANDOM % 20000))}
    # SRUN_ARGS is split into words on purpose.
    # shellcheck disable=SC2086
    exec srun -p "$partition" \
        --job-name="$job_name" \
        ${GRES:+--gres="$GRES"} \
        --ntasks="$GPUS" \
        --ntasks-per-node="$GPUS_PER_NODE" \
        --cpus-per-task="$CPUS_PER_TASK" \
        --kill-on-bad-exit=1 \
        $SRUN_ARGS \
        "$PYTHON" -u "$TOOLS_DIR/$tool" "$@"
}
