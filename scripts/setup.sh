#!/bin/sh
# One idempotent setup for `make run` and `make test`: installs only what is missing, so a second run
# installs nothing and takes seconds.
set -e
cd "$(dirname "$0")/.."

# Debian packages the product and the whole test suite need.
PACKAGES="liblouis20 liblouis-data liblouis-bin python3-louis brailleutils espeak-ng lame sox default-jre-headless
chromium fonts-wqy-zenhei orca xvfb xdotool speech-dispatcher speech-dispatcher-espeak-ng at-spi2-core
dbus dbus-x11 libglib2.0-bin redis-server nginx systemd wrk"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
if ! python3 -c "import ensurepip" 2>/dev/null; then
    missing="$missing python3-venv"
fi
if [ -n "$missing" ]; then
    echo "setup: installing Debian packages:$missing"
    SUDO=""
    if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
fi

VENV=.venv
if [ ! -x "$VENV/bin/python" ]; then
    echo "setup: creating $VENV"
    python3 -m venv "$VENV"
fi

# Reinstall the package only when its declared dependencies changed.
stamp="$VENV/.accessible-lib-installed"
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "setup: installing Python packages"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e ".[test]"
    echo "$want" > "$stamp"
fi

# Debian's liblouis binding is one pure-Python package; link only it (see docs/TOOLCHAIN.md: the PyPI 'louis' is
# unrelated, and exposing all of dist-packages would drag Debian's other packages into the venv).
louis_dir=$(dpkg -L python3-louis | grep '/louis$' | head -n 1)
purelib=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
if [ ! -e "$purelib/louis" ]; then
    ln -s "$louis_dir" "$purelib/louis"
fi
"$VENV/bin/python" -c "import louis" || { echo "setup: the liblouis binding does not load" >&2; exit 1; }
