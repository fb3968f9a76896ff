#!/usr/bin/env bash
# Install the Debian packages the test suite needs, when missing. Idempotent: does nothing when all are present.
# As a non-root user, prints what to install and exits 1 when something is missing.
set -euo pipefail

# "check : package". The check is a path (glob allowed) when it contains a slash, a command on PATH otherwise.
REQUIREMENTS=(
    "/usr/lib/postgresql/*/bin/initdb : postgresql"
    "/usr/sbin/sshd : openssh-server"
    # "/usr/lib/dovecot/imap : dovecot-imapd"
    # "/usr/lib/dovecot/pop3 : dovecot-pop3d"
    "/usr/bin/chromium : chromium"
)

present() {
    if [[ $1 == */* ]]; then
        compgen -G "$1" >/dev/null
    else
        command -v "$1" >/dev/null 2>&1
    fi
}

missing_packages() {
    local req check package
    declare -A seen=()
    for req in "${REQUIREMENTS[@]}"; do
        check=${req%% : *}
        package=${req##* : }
        if ! present "$check" && [[ -z ${seen[$package]:-} ]]; then
            seen[$package]=1
            echo "$package"
        fi
    done
}

mapfile -t missing < <(missing_packages)
if ((${#missing[@]} == 0)); then
    exit 0
fi

if ((EUID != 0)); then
    echo "system-deps: missing Debian packages: ${missing[*]}" >&2
    echo "system-deps: as root, run: apt-get install --no-install-recommends ${missing[*]}" >&2
    exit 1
fi

echo "system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"

mapfile -t still_missing < <(missing_packages)
if ((${#still_missing[@]} != 0)); then
    echo "system-deps: still missing after install: ${still_missing[*]}" >&2
    exit 1
fi
