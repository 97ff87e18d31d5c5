"""A real nginx for tests: Debian's package, run as a process of the test, never as the system's service.

It gets a prefix directory of its own (`-p`, `daemon off`, its pid, lock, logs and temporary directories
inside it), free loopback ports and a certificate from a throwaway CA (trustme) that only the test's client
trusts. Its server blocks are docs/deploy/nginx-accessible-lib.conf itself, with only the ports, the
editions directory and the certificate and challenge paths changed, so the configuration the README shows is
the one tested.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import trustme

CHECKOUT = Path(__file__).resolve().parent.parent
DEPLOY = CHECKOUT / "docs" / "deploy"
SITE = DEPLOY / "nginx-accessible-lib.conf"


@dataclass
class Nginx:
    https: str  # origins, without a trailing slash
    http: str
    tls: ssl.SSLContext  # trusts the throwaway CA
    acme: Path  # the web root of certificate challenges
    log: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def site_config(
    text: str, *, app_port: int, https_port: int, http_port: int, tmp: Path, editions: Path
) -> str:
    """The documented site file with this machine's ports and paths; fails when a line it changes is gone,
    so the documentation cannot drift from what is tested without this test saying so."""
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    changes = {
        "listen [::]:80;": "",
        "listen [::]:443 ssl http2;": "",
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
        "server 127.0.0.1:8000;": f"server 127.0.0.1:{app_port};",
        "alias /srv/accessible-lib/data/editions/;": f"alias {editions}/;",
        "/etc/letsencrypt/live/library.example.org/fullchain.pem": str(cert),
        "/etc/letsencrypt/live/library.example.org/privkey.pem": str(key),
        "root /var/www/html;": f"root {tmp / 'acme'};",
    }
    for old, new in changes.items():
        assert text.count(old) == 1, f"{SITE.name} no longer says {old!r} once"
        text = text.replace(old, new)
    return text


def main_config(tmp: Path, site: Path) -> str:
    """What Debian's /etc/nginx/nginx.conf gives a site, with every path nginx writes inside `tmp`."""
    user = ""
    if os.geteuid() == 0:  # nginx would drop to `nobody`, who cannot enter pytest's private tmp_path
        user = f"user {pwd.getpwuid(0).pw_name};"
    return f"""
{user}
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
lock_file {tmp}/nginx.lock;
error_log {tmp}/error.log info;
events {{ worker_connections 64; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    sendfile on;
    include {site};
}}
"""


def wait_for_port(port: int, process: subprocess.Popen, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited with {process.returncode}: {log.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nginx did not listen on {port} within {timeout} s")


@contextmanager
def running_nginx(tmp: Path, *, app_port: int, editions: Path) -> Iterator[Nginx]:
    """nginx in front of the app on `app_port`, sending files from `editions`, while the block runs."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(nginx).is_file(), "nginx is missing: `make setup` installs the Debian package"
    (tmp / "acme").mkdir(parents=True)
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1", "library.example.org")
    issued.cert_chain_pems[0].write_to_path(str(tmp / "cert.pem"))
    issued.private_key_pem.write_to_path(str(tmp / "key.pem"))
    https_port, http_port = free_port(), free_port()
    site = tmp / "site.conf"
    site.write_text(
        site_config(
            SITE.read_text(),
            app_port=app_port,
            https_port=https_port,
            http_port=http_port,
            tmp=tmp,
            editions=editions,
        )
    )
    conf = tmp / "nginx.conf"
    conf.write_text(main_config(tmp, site))
    log = tmp / "error.log"
    process = subprocess.Popen(
        [nginx, "-p", str(tmp), "-c", str(conf), "-e", str(log)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(https_port, process, log)
        wait_for_port(http_port, process, log)
        context = ssl.create_default_context()
        ca.configure_trust(context)
        yield Nginx(
            https=f"https://127.0.0.1:{https_port}",
            http=f"http://127.0.0.1:{http_port}",
            tls=context,
            acme=tmp / "acme",
            log=log,
        )
    finally:
        process.terminate()  # SIGTERM: nginx's fast shutdown
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
