#!/usr/bin/env bash
# Acceptance test: drive `ingot up` with the third-party Python CF client `cloudfoundry-client`.
#
#   tests/acceptance/run.sh [pytest args...]
#
# Environment:
#   INGOT_ACCEPTANCE_VENV  virtualenv to create/reuse (default: <repo>/target/acceptance-venv);
#                          point it at a cache dir outside the clone to reuse it between runs.
#   INGOT_BIN              ingot binary to test; when unset, `cargo build -p ingot` builds one.
#   PYTHON                 interpreter used to create the virtualenv (default: python3, >= 3.10).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${INGOT_ACCEPTANCE_VENV:-$root/target/acceptance-venv}"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    echo "acceptance: creating virtualenv in $venv" >&2
    mkdir -p "$(dirname "$venv")"
    "$python" -m venv "$venv"
fi

# Reinstall only when requirements.txt changed since the last successful install.
stamp="$venv/.ingot-requirements.sha256"
want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
    echo "acceptance: installing $here/requirements.txt" >&2
    "$venv/bin/python" -m pip install --disable-pip-version-check --quiet -r "$here/requirements.txt"
    echo "$want" >"$stamp"
fi

if [ -z "${INGOT_BIN:-}" ]; then
    (cd "$root" && cargo build -p ingot --locked)
    target_dir="${CARGO_TARGET_DIR:-$root/target}"
    case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac
    export INGOT_BIN="$target_dir/debug/ingot"
fi
if [ ! -x "$INGOT_BIN" ]; then
    echo "acceptance: INGOT_BIN=$INGOT_BIN is not an executable" >&2
    exit 2
fi

cd "$here"
exec "$venv/bin/python" -m pytest -p no:cacheprovider -ra "$@" test_cf_client.py
