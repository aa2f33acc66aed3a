#!/bin/sh
# `npm run setup`: installs everything `npm test` needs on a Debian machine,
# then checks it. .ci/run runs this, then `npm ci` and `npm test`.
#  - Debian packages for the tools the suites run (dcmtk, podman, ...): apt-get,
#    as root or through sudo;
#  - moto_server and cfn-lint from pip (Debian has neither);
#  - Node.js of the version the product ships, from the npm registry's
#    node-linux-<arch> package into .tools/, when the system's is older.
# The list of tools lives in scripts/toolchain.mjs (TOOLS). A tool that is
# still missing at the end fails the script; nothing is skipped.
set -euf  # -f: no globbing, "moto[server]" stays literal
cd "$(dirname "$0")/.."

apt=$(node scripts/toolchain.mjs missing apt)
if [ -n "$apt" ]; then
  echo "setup: installing Debian packages: $apt"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  # shellcheck disable=SC2086 # word splitting of the package list is intended
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $apt
fi

pip=$(node scripts/toolchain.mjs missing pip)
if [ -n "$pip" ]; then
  echo "setup: installing from pip: $pip"
  # shellcheck disable=SC2086
  pip install -q $pip || pip install -q --user --break-system-packages $pip || true
fi

node scripts/toolchain.mjs node
node scripts/toolchain.mjs check
echo "setup: done; run npm test"
