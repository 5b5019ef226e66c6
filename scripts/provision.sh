#!/usr/bin/env bash
# Installs the programs the tests drive, from the distribution's packages
# (Debian/Ubuntu, as root or with sudo). Without root or apt-get it lists
# what is missing and exits 0: those tests then skip (and fail in CI).
set -euo pipefail

# command -> Debian package
declare -A needs=(
  [age]=age
  [zstd]=zstd
  [gzip]=gzip
  [openssl]=openssl
  [curl]=curl
  [radosgw]=radosgw
  [ceph-mon]=ceph-mon
  [ceph-osd]=ceph-osd
)

missing=()
for command in "${!needs[@]}"; do
  command -v "$command" >/dev/null 2>&1 || missing+=("${needs[$command]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
# sort -u: several commands share a package
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo"; else sudo="none"; fi
fi
if [ "$sudo" = none ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "missing for the tests: ${missing[*]}" >&2
  echo "install them with: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 0
fi
echo "installing: ${missing[*]}" >&2
$sudo apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
