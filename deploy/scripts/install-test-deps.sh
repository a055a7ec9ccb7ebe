#!/usr/bin/env bash
# Installs the Debian packages the test suite drives, only those missing: the real BitTorrent
# clients that tests/Integration.Tests/RealClients starts (aria2c, qbittorrent-nox, rtorrent, and
# python3-libtorrent under /usr/bin/python3), nginx (nginx-light) for the load-balanced cluster tests and
# deploy/local/cluster.sh, prometheus for the metrics test, chromium (and a font) for the status page test, and a kubectl for the manifest tests (tests/Integration.Tests/Deploy run
# `kubectl kustomize`). Safe to run every time.
set -euo pipefail

packages=(curl python3 aria2 qbittorrent-nox rtorrent python3-libtorrent nginx-light prometheus chromium fonts-dejavu-core)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done

# Any kubectl will do; Debian's (kubernetes-client, 1.20) only where none is installed: another package (a cloud SDK's
# kubectl) may own /usr/bin/kubectl, and the two cannot be installed together.
command -v kubectl >/dev/null || missing+=(kubernetes-client)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "Installing test dependencies: ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
