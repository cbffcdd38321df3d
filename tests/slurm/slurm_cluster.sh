# A throw-away single-host Slurm for the tests (sourced): munged, slurmctld and two slurmd virtual nodes (n1, n2,
# 4 CPUs and 2 fake GPUs each) in the scratch folder $cluster, on free ports, with their own munge socket, so it
# never touches a system Slurm or munge. Installs nothing. Functions:
#   cluster_require        exit 77 (skip) unless the Slurm and munge programs are installed and we are root
#   cluster_start DIR      start everything under DIR (wiped first); exports SLURM_CONF; exits 1 with logs on failure
#   cluster_stop           cancel our jobs, then stop only the daemons started here, by PID (TERM, then KILL after 5 s)
# cluster_start installs `trap cluster_stop EXIT`, so the daemons go away however the test ends.

cluster_pids=()

cluster_require() {
    local p
    for p in slurmctld slurmd munged munge unmunge sbatch srun scontrol sinfo squeue scancel setpriv flock; do
        command -v "$p" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin command -v "$p" >/dev/null 2>&1 ||
            { echo "SKIP: $p not installed (deploy/install_deps.sh --slurm installs Slurm and munge)"; exit 77; }
    done
    [ "$(id -u)" -eq 0 ] || { echo "SKIP: the single-host Slurm test runs as root (SlurmUser=root, fake GPU devices)"; exit 77; }
    id munge >/dev/null 2>&1 || { echo "SKIP: no 'munge' user (the munge package creates it)"; exit 77; }
    export PATH=$PATH:/usr/sbin
}

# free_port: a TCP port no socket uses (listening, connected or closing: /proc/net/tcp*), from a random start below
# the kernel's ephemeral range (which outgoing connections draw from, so a port probed free there can be taken as a
# client port before slurmd binds it: "Address already in use")
free_port() {
    local low=32768 p i
    read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || low=32768
    [ "$low" -gt 21000 ] || low=32768
    p=$((20000 + RANDOM % (low - 20000)))
    for ((i = 0; i < 200; i++, p++)); do
        [ "$p" -lt "$low" ] || p=20000
        grep -qi ":$(printf '%04X' "$p") " /proc/net/tcp /proc/net/tcp6 2>/dev/null && continue
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
    done
    return 1
}

# wait_for SECONDS WHAT CMD...: polls CMD every 0.2 s until it succeeds; fails with the logs after SECONDS
wait_for() {
    local limit=$1 what=$2 i
    shift 2
    for ((i = 0; i < limit * 5; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    echo "FAIL: $what not ready after ${limit}s; logs:"
    tail -n 20 "$cluster"/log/* 2>/dev/null
    exit 1
}

cluster_write_conf() {
    local host=$1 ctld_port=$2 p1=$3 p2=$4 node
    cat >"$cluster/etc/slurm.conf" <<CONF
ClusterName=mhimtest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$cluster/munge/munge.socket
SlurmctldPort=$ctld_port
StateSaveLocation=$cluster/state
SlurmdSpoolDir=$cluster/spool-%n
SlurmctldPidFile=$cluster/pids/slurmctld.daemon
SlurmdPidFile=$cluster/pids/slurmd-%n.daemon
SlurmctldLogFile=$cluster/log/slurmctld.log
SlurmdLogFile=$cluster/log/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
MpiDefault=pmix
MailProg=/bin/true
SwitchType=switch/none
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
EnforcePartLimits=ALL
MaxArraySize=1001
InactiveLimit=0
KillWait=5
MinJobAge=300
SlurmctldTimeout=30
SlurmdTimeout=30
Waittime=0
GresTypes=gpu
NodeName=n1 NodeHostname=$host NodeAddr=127.0.0.1 Port=$p1 CPUs=4 RealMemory=1000 Gres=gpu:2 State=UNKNOWN
NodeName=n2 NodeHostname=$host NodeAddr=127.0.0.1 Port=$p2 CPUs=4 RealMemory=1000 Gres=gpu:2 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=ALL Default=NO MaxTime=INFINITE State=UP
CONF
    : >"$cluster/etc/gres.conf"
    for node in n1 n2; do
        mkdir -p "$cluster/fakegpu/$node" "$cluster/pmix-$node" "$cluster/etc-$node"
        # fake GPUs must be character devices: these are /dev/null's major and minor
        mknod "$cluster/fakegpu/$node/nvidia0" c 1 3 && mknod "$cluster/fakegpu/$node/nvidia1" c 1 3 || return 1
        echo "NodeName=$node Name=gpu File=$cluster/fakegpu/$node/nvidia[0-1]" >>"$cluster/etc/gres.conf"
    done
    for node in n1 n2; do
        # each virtual node gets its own PMIx client folder (else the two slurmd collide on one folder)
        cp "$cluster/etc/slurm.conf" "$cluster/etc/gres.conf" "$cluster/etc-$node/"
        echo "PMIxCliTmpDirBase=$cluster/pmix-$node" >"$cluster/etc-$node/mpi.conf"
    done
}

cluster_start() {
    cluster=$1
    local host ctld_port p1 p2 node
    rm -rf "$cluster" && mkdir -p "$cluster"/{etc,state,log,pids,munge} || exit 1
    trap cluster_stop EXIT
    host=$(hostname -s)
    ctld_port=$(free_port) && p1=$(free_port) && p2=$(free_port) || { echo "FAIL: no free TCP port"; exit 1; }
    [ "$ctld_port" != "$p1" ] && [ "$p1" != "$p2" ] && [ "$ctld_port" != "$p2" ] || { echo "FAIL: port clash"; exit 1; }
    cluster_write_conf "$host" "$ctld_port" "$p1" "$p2" || { echo "FAIL: writing the Slurm configuration"; exit 1; }
    export SLURM_CONF=$cluster/etc/slurm.conf

    # munged as the munge user, with its own key, socket, pid, seed and log files
    # (the socket's folder must be searchable by all, the key's folder private)
    mkdir -p "$cluster/munge/key" && head -c 1024 /dev/urandom >"$cluster/munge/key/munge.key"
    chown -R munge:munge "$cluster/munge" && chmod 0755 "$cluster/munge" && chmod 0700 "$cluster/munge/key" &&
        chmod 0400 "$cluster/munge/key/munge.key" || { echo "FAIL: preparing the munge key"; exit 1; }
    setpriv --reuid=munge --regid=munge --init-groups /usr/sbin/munged -F \
        --socket="$cluster/munge/munge.socket" --key-file="$cluster/munge/key/munge.key" \
        --pid-file="$cluster/munge/munged.pid" --seed-file="$cluster/munge/munged.seed" \
        --log-file="$cluster/munge/munged.log" >"$cluster/log/munged.out" 2>&1 &
    cluster_pids+=($!)
    wait_for 10 munged bash -c "munge -S '$cluster/munge/munge.socket' -n | unmunge -S '$cluster/munge/munge.socket'"

    slurmctld -D -f "$SLURM_CONF" >"$cluster/log/slurmctld.out" 2>&1 &
    cluster_pids+=($!)
    wait_for 20 slurmctld bash -c "scontrol ping | grep -q UP"
    cluster_ctld_up=1
    for node in n1 n2; do
        SLURM_CONF=$cluster/etc-$node/slurm.conf slurmd -D -N "$node" -f "$cluster/etc-$node/slurm.conf" \
            >"$cluster/log/slurmd-$node.out" 2>&1 &
        cluster_pids+=($!)
    done
    wait_for 30 "the two slurmd nodes" bash -c '[ "$(sinfo -h -N -t idle -p debug -o %N | sort -u | wc -l)" -eq 2 ]'
    echo "cluster up: slurmctld port $ctld_port, nodes n1 (port $p1) and n2 (port $p2), daemons ${cluster_pids[*]}"
}

cluster_stop() {
    local i pid n jobs_left
    [ ${#cluster_pids[@]} -gt 0 ] || return 0
    # our jobs first: their steps run under slurmstepd, which outlives slurmd
    if [ "${cluster_ctld_up:-0}" = 1 ]; then
        scancel --full --quiet --user=root 2>/dev/null
        for ((n = 0; n < 50; n++)); do
            jobs_left=$(squeue -h -t running,completing,configuring 2>/dev/null) || break
            [ -z "$jobs_left" ] && break
            sleep 0.2
        done
    fi
    # slurmd first, then slurmctld, then munged (the reverse of the start order)
    for ((i = ${#cluster_pids[@]} - 1; i >= 0; i--)); do
        pid=${cluster_pids[$i]}
        kill -TERM "$pid" 2>/dev/null || continue
        for ((n = 0; n < 25; n++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        kill -0 "$pid" 2>/dev/null && { echo "daemon $pid ignored TERM for 5 s: KILL"; kill -KILL "$pid"; }
        wait "$pid" 2>/dev/null
    done
    cluster_pids=()
    rm -f "$cluster"/pids/*
    echo "cluster stopped"
}
