#!/usr/bin/env bash
# Install the Debian packages listed in mk/apt-packages.txt (idempotent).
# Usage: mk/deps.sh [list-file]
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
SUDO=""
[[ $(id -u) -ne 0 ]] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
if ! $SUDO apt-get install -y -qq --no-install-recommends "${want[@]}"; then
    echo "deps: pinned versions unavailable, installing candidates of: ${missing[*]}" >&2
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
