#!/usr/bin/env bash
# Install the Debian packages listed in mk/apt-packages.txt.
# Usage: mk/deps.sh [list-file]
# Idempotent (does nothing when every package is installed) and never prompts: as root it
# runs apt-get itself (a fresh Debian 12 has no sudo); otherwise it uses `sudo -n`, which
# fails instead of asking for a password, and says what to run when that is not possible.
set -euo pipefail
list=${1:-$(dirname "$0")/apt-packages.txt}
missing=()
want=()
while read -r name ver; do
    [[ -z "$name" || "$name" == \#* ]] && continue
    if ! dpkg-query -W -f='${Status}' "$name" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$name")
        want+=("$name=$ver")
    fi
done <"$list"
[[ ${#missing[@]} -eq 0 ]] && exit 0
echo "deps: installing ${missing[*]}" >&2
as_root=()
if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        as_root=(sudo -n)
    else
        echo "deps: not root and no password-less sudo; as root, run: apt-get install ${missing[*]}" >&2
        exit 1
    fi
fi
# No question from apt or dpkg: -y, no frontend, keep existing config files.
apt=("${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -y -qq
     -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
"${apt[@]}" update </dev/null
if ! "${apt[@]}" install --no-install-recommends "${want[@]}" </dev/null; then
    echo "deps: pinned versions unavailable, installing candidates of: ${missing[*]}" >&2
    "${apt[@]}" install --no-install-recommends "${missing[@]}" </dev/null
fi
