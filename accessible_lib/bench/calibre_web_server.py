"""Calibre-Web for the side-by-side benchmark: installed from PyPI into a venv of its own (never a project
dependency), configured through its app.db as an administrator would on its admin pages, and started as its
documentation says (`cps`, its own server) on a free loopback port.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from .server import free_port, stop_server

CALIBRE_WEB = "calibreweb==0.6.27"


def install_calibre_web(venv: Path) -> str:
    """Calibre-Web from PyPI into its own venv (once); its version as `cps --version` says it."""
    cps = venv / "bin" / "cps"
    if not cps.exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", CALIBRE_WEB], check=True)
    return subprocess.run([str(cps), "--version"], capture_output=True, text=True).stdout.strip()


def _cw_env(config: Path, port: int) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCESSIBLE_LIB_")}
    env.update(CALIBRE_DBPATH=str(config), CACHE_DIRECTORY=str(config / "cache"), CALIBRE_PORT=str(port))
    return env


def start_cps(venv: Path, config: Path, port: int) -> subprocess.Popen:
    out = (config / "cps.out").open("ab")
    server = subprocess.Popen(
        [str(venv / "bin" / "cps"), "-p", str(config / "app.db"), "-o", str(config / "calibre-web.log"),
         "-i", "127.0.0.1"],
        env=_cw_env(config, port),
        cwd=config,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"Calibre-Web stopped; see {config / 'cps.out'}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=60):
                return server
        except (OSError, urllib.error.URLError):
            time.sleep(0.5)
    stop_server(server)
    raise RuntimeError(f"Calibre-Web did not start; see {config / 'cps.out'}")


def start_calibre_web(venv: Path, config: Path, library: Path) -> tuple[subprocess.Popen, int]:
    """Calibre-Web on a free loopback port, using `library`, browsable without signing in.

    The first start writes app.db with its defaults (admin/admin123, no library); the settings an
    administrator would choose on its admin pages are then written there while it is stopped: the library
    folder, anonymous browsing, and for the guest the same sidebar lists (authors, series...) as the admin."""
    port = free_port()
    config.mkdir(parents=True, exist_ok=True)
    if not (config / "app.db").exists():
        stop_server(start_cps(venv, config, port))
    conn = sqlite3.connect(config / "app.db")
    with conn:
        conn.execute(
            "UPDATE settings SET config_calibre_dir = ?, config_port = ?, config_anonbrowse = 1",
            [str(library), port],
        )
        conn.execute(
            "UPDATE user SET sidebar_view = (SELECT sidebar_view FROM user WHERE name = 'admin') "
            "WHERE name = 'Guest'"
        )
    conn.close()
    return start_cps(venv, config, port), port
