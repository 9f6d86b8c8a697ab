# shellcheck shell=bash disable=SC2034  # settings used by ../lab
# Helpers of the dce-jobs swarm lab (sourced by ./lab, not executed).
# Everything the lab owns: $LAB, netns dcl-*, link dcl-host, cgroups /dce-lab-node*,
# and the processes started from there.

MARKER=.dce-jobs-lab            # file in $LAB saying "this folder is a lab, rm -rf is fine"

# (Re)compute settings from the DCE_LAB_* environment.
lab_config() {
  LAB=${DCE_LAB_DIR:-/tmp/dce-jobs-lab}
  NODES=${DCE_LAB_NODES:-3}     # node1 = manager, node2..N = workers
  NET=${DCE_LAB_NET:-10.214.0}  # lab /24: .1 = host side, .1N = nodeN
  HEARTBEAT=${DCE_LAB_HEARTBEAT:-2s}
  IMAGE=${DCE_LAB_IMAGE:-dce-jobs/busybox:test}
  BUSYBOX=${DCE_LAB_BUSYBOX:-/bin/busybox}
  LAB=${LAB%/}
  # DCE_LAB_PREFIX lets several labs coexist (give each its own DCE_LAB_DIR and DCE_LAB_NET too)
  NS_PREFIX=${DCE_LAB_PREFIX:-dcl}  # netns names: dcl-sw (bridge), dcl-n1..dcl-n9 (nodes)
  case "$NS_PREFIX" in [a-z]|[a-z][a-z0-9]|[a-z][a-z0-9][a-z0-9]|[a-z][a-z0-9][a-z0-9][a-z0-9]) ;;
    *) die "DCE_LAB_PREFIX must be 1-4 lowercase letters/digits (got '$NS_PREFIX')";; esac
  NS_SWITCH=$NS_PREFIX-sw
  HOST_IF=$NS_PREFIX-host          # root-netns end of the host uplink veth
  if [ "$NS_PREFIX" = dcl ]; then CG_PREFIX=dce-lab-node; else CG_PREFIX=dce-lab-$NS_PREFIX-node; fi
}
log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { printf 'lab: error: %s\n' "$*" >&2; exit 1; }
lab_config

node_ns()    { echo "$NS_PREFIX-n$1"; }
node_dir()   { echo "$LAB/node$1"; }
node_ip()    { echo "$NET.1$1"; }
node_host()  { echo "$NS_PREFIX-node$1"; }
node_sock()  { echo "unix://$LAB/node$1/docker.sock"; }
node_tcp()   { echo "tcp://$NET.1$1:2375"; }
dk()         { local n=$1; shift; docker -H "$(node_sock "$n")" "$@"; }
# same, but gives up after $T seconds (paused / partitioned nodes never answer)
dkt()        { local t=$1 n=$2; shift 2; timeout "$t" docker -H "$(node_sock "$n")" "$@"; }

need_root() { [ "$(id -u)" = 0 ] || die "must run as root (needs netns, mounts, cgroups)"; }

check_lab_path() {
  case "$LAB" in /?*) ;; *) die "DCE_LAB_DIR must be an absolute path (got '$LAB')";; esac
  case "$LAB" in /|/tmp|/root|/home|/var|/usr|/etc|/run) die "refusing DCE_LAB_DIR=$LAB";; esac
  # unix sockets are limited to 107 bytes; the longest one is containerd's
  local s="$LAB/node9/exec/containerd/containerd.sock.ttrpc"
  [ "${#s}" -le 100 ] || die "DCE_LAB_DIR too long for unix socket paths: $LAB"
}

# Load the settings a running lab was started with (for node/service/env commands).
load_lab() {
  [ -f "$LAB/lab.env" ] || die "no lab running in $LAB (no lab.env; run 'lab up')"
  local k v
  while IFS='=' read -r k v; do
    case "$k" in DCE_LAB_NODES|DCE_LAB_NET|DCE_LAB_HEARTBEAT|DCE_LAB_IMAGE|DCE_LAB_PREFIX) export "$k=$v";; esac
  done < "$LAB/lab.env"
  lab_config
}

check_node_index() {
  case "$1" in [1-9]) ;; *) die "node index must be 1..9 (got '$1')";; esac
  [ "$1" -le "$NODES" ] || die "node$1 does not exist (lab has $NODES node(s))"
}

# process exists and is not a zombie (PID 1 here reaps orphans lazily, and kill -0
# succeeds on a zombie)
alive() {
  local s
  s=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$s" ] && [ "${s%% *}" != Z ]
}
# any of these pids alive?
any_alive() { local p; for p in "$@"; do alive "$p" && return 0; done; return 1; }

# pid of node N's dockerd if it runs, else fail
dockerd_pid() {
  local p
  p=$(cat "$(node_dir "$1")/docker.pid" 2>/dev/null) || return 1
  [ -n "$p" ] && alive "$p" && is_lab_pid "$p" && echo "$p"
}
# containerd started by a dockerd
containerd_of() { ps -eo pid=,ppid=,comm= | awk -v p="$1" '$2==p && $3=="containerd" {print $1}'; }

# pid is a docker/containerd process whose command line mentions the lab folder?
is_lab_pid() {
  case "$(cat "/proc/$1/comm" 2>/dev/null)" in
    dockerd|containerd|containerd-shim*|docker-proxy|runc) ;; *) return 1;;
  esac
  tr '\0' ' ' < "/proc/$1/cmdline" 2>/dev/null | grep -q -- "$LAB/"
}

# Start node N's dockerd in the background (its netns must exist).
#   nsenter --net : the node's own network namespace (own IPs, iptables, ports 2375/2377/7946/4789)
#   unshare --uts : own hostname, so swarm sees distinct node hostnames
#   host mount ns on purpose: a private one would pin copies of other daemons' mounts;
#   every path (data-root, exec-root with containerd socket and netns files) is per node.
#   DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1: swarm tasks use the local image, never pull.
#   --tls=false: dockerd 20.10 otherwise sleeps 15 s on an unauthenticated tcp listener.
#   deprecated-key-path: own engine ID per node (else all share /etc/docker/key.json).
#   9>&- : do not leak the up/down lock into the daemon.
start_node() {
  local n=$1 d ip
  d=$(node_dir "$n"); ip=$(node_ip "$n")
  mkdir -p "$d"
  # pidfiles left by a killed dockerd/containerd block the start while their pid is an
  # unreaped zombie (dockerd: "pid file found"; containerd: "timeout waiting for containerd")
  dockerd_pid "$n" >/dev/null || rm -f "$d/docker.pid"
  local cp; cp=$(cat "$d/exec/containerd/containerd.pid" 2>/dev/null) || true
  if [ -n "$cp" ] && ! alive "$cp"; then rm -f "$d/exec/containerd/containerd.pid"; fi
  printf '{ "deprecated-key-path": "%s/key.json" }\n' "$d" > "$d/daemon.json"
  # shellcheck disable=SC2016  # $0/$@ are for the inner sh
  DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 \
  setsid nsenter --net="/run/netns/$(node_ns "$n")" \
    unshare --uts sh -c 'hostname "$0"; exec "$@"' "$(node_host "$n")" \
    dockerd --config-file "$d/daemon.json" \
      --data-root "$d/data" --exec-root "$d/exec" --pidfile "$d/docker.pid" \
      -H "$(node_sock "$n")" -H "tcp://$ip:2375" --tls=false \
      --cgroup-parent "/$CG_PREFIX$n" --shutdown-timeout 3 \
      --label "dce-lab.node=node$n" \
    >> "$d/dockerd.log" 2>&1 < /dev/null 9>&- &
  STARTED_PID[n]=$!   # setsid/nsenter/unshare/sh all exec: this is dockerd's pid
}
declare -a STARTED_PID=()

wait_node() {
  local n=$1
  local log; log=$(node_dir "$n")/dockerd.log
  for _ in $(seq 1 120); do
    dkt 2 "$n" version >/dev/null 2>&1 && return 0
    if [ -n "${STARTED_PID[n]:-}" ] && ! alive "${STARTED_PID[n]}"; then
      die "dockerd of node$n exited at start: $(grep -v '^time=' "$log" | tail -1) (log: $log)"
    fi
    sleep 0.25
  done
  tail -15 "$log" >&2
  die "dockerd of node$n did not answer within 30 s (log: $log)"
}

# Is anything of a lab left on this host?
lab_leftovers_exist() {
  [ -e "$LAB" ] && return 0
  ip netns list 2>/dev/null | grep -q "^$NS_PREFIX-" && return 0
  ip link show "$HOST_IF" >/dev/null 2>&1 && return 0
  compgen -G "/sys/fs/cgroup/*/$CG_PREFIX*" >/dev/null && return 0
  compgen -G "/sys/fs/cgroup/$CG_PREFIX*" >/dev/null && return 0
  return 1
}

# Serialise up/down of labs on this host (flock on this file: nothing to clean up).
take_lock() {
  exec 9< "${BASH_SOURCE[0]}"
  flock -w 300 9 || die "another 'lab up/down' is still running (waited 300 s)"
}
