#!/usr/bin/env bash
# Install every Debian 12 package mhim needs to build, test and run (idempotent, non-interactive).
#   deploy/install_deps.sh            build + runtime + test dependencies
#   deploy/install_deps.sh --slurm    also the single-host Slurm stack used by the Slurm tests
#   deploy/install_deps.sh --python   also the PyTorch reference stack (fixture regeneration, benchmarks)
# The Dockerfile and the Apptainer definition in this folder run exactly this script.
set -euo pipefail

packages=(
  cmake build-essential pkg-config git ca-certificates
  libopenmpi-dev openmpi-bin
  libhdf5-dev hdf5-tools
  libopenblas-dev
  libyaml-dev
  libzip-dev
  libcjson-dev
)
for arg in "$@"; do
  case "$arg" in
    --slurm) packages+=(slurmctld slurmd slurm-client munge) ;;
    --python) packages+=(python3-torch python3-numpy python3-h5py python3-sklearn python3-pandas) ;;
    *) echo "install_deps.sh: unknown argument '$arg' (expected --slurm or --python)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install_deps.sh: all ${#packages[@]} packages already installed"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 "${missing[@]}"
echo "install_deps.sh: installed ${#missing[@]} packages: ${missing[*]}"
