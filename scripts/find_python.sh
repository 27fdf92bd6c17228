#!/bin/sh
# Print the path of the first Python 3.11-3.13 that runs, of the candidates given (default:
# python3.11 python3.12 python3.13 python3), and say on stderr which it chose and what it skipped.
# A candidate that does not run (a pyenv shim for a version that is installed but not active, a
# broken link) is skipped. If none runs, say in one line what to install, and exit 1.
# `make env` / `make lab` call it (both Makefiles): `make lab PYTHON=...` tries only that one.
set -u
[ $# -gt 0 ] || set -- python3.11 python3.12 python3.13 python3
skipped=""
for candidate in "$@"; do
    if ! path=$(command -v "$candidate" 2>/dev/null); then
        skipped="$skipped; $candidate: not found"
    elif ! version=$("$candidate" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null); then
        skipped="$skipped; $candidate ($path): does not run"
    else
        case "$version" in
            3.11|3.12|3.13)
                echo "using $candidate ($path, Python $version)${skipped:+; skipped ${skipped#; }}" >&2
                echo "$path"
                exit 0 ;;
            *) skipped="$skipped; $candidate: Python $version" ;;
        esac
    fi
done
echo "error: no Python 3.11, 3.12 or 3.13 runs here (${skipped#; }): install Python 3.12 (python.org, your package manager, or \`pyenv install 3.12\`), then run make again, or name one: make lab PYTHON=/path/to/python3.12" >&2
exit 1
