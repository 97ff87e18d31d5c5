#!/usr/bin/env python3
"""Hear a web page through the real Orca screen reader, headless: the project's copy of orca_read.py.

A screen-reader test must hear what a blind reader hears, so this drives the real Orca, not a model of it.
It starts, all private to one run directory:
  Xvfb (virtual X display) -> D-Bus session bus -> AT-SPI bus + registry
  -> speech-dispatcher (espeak-ng, audio to libao's "null" driver: no sound device needed)
  -> Orca (debug log to a file) -> Chromium (accessibility forced on) on the page,
then sends keystrokes with xdotool and collects, per key, what Orca handed to speech-dispatcher (every
utterance, including say-all chunks), read back from Orca's debug log.

Usage:
  python3 tests/orca_harness.py [options] URL-or-FILE KEY [KEY ...]

  URL      an http(s) URL, or a local .html file (served from its directory
           by a built-in HTTP server bound to 127.0.0.1 on a free port).
  KEY      an xdotool key spec (h, Tab, shift+Tab, ctrl+Home, KP_Add,
           Insert+t, Return ...), or
           type:TEXT   type TEXT with xdotool type
           sleep:SECS  just wait
           nowait:KEY  press KEY and go on without waiting for Orca to finish
           load:KEY    press KEY (a form's submit, a link) and wait for Orca to
                       say the new page finished loading, then for it to finish
  --cookie NAME=VALUE (repeatable) opens a loopback page with that cookie
           set, e.g. a session cookie, so a signed-in page can be heard.
Output: a transcript on stdout ("[key] utterance" lines), and --json FILE
with everything (startup utterances, per-key utterances, timings).
From Python: `read_page(url, keys, **options)` returns that JSON as a dict, `spoken(step)` its texts.

Only Debian packages are needed: orca xvfb xdotool speech-dispatcher speech-dispatcher-espeak-ng dbus
at-spi2-core libglib2.0-bin chromium. Stdlib only, so the system python3 or the venv's can run it; Orca
itself runs on /usr/bin/python3. One run at a time per machine (Orca allows one instance per user; a lock
file serialises runs). Seen with Orca 43.1 and Chromium: ~2 s to the first words, ~0.3-0.6 s per key.
Adapted from the shared tools' orca_read.py (recording and AT-SPI tree dumps left out).
"""

import argparse
import contextlib
import fcntl
import http.server
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from functools import partial

SYS_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
LOCK_FILE = os.path.join(tempfile.gettempdir(), "orca_read.lock")

ORCA_CUSTOMIZATIONS = """\
# Loaded by Orca at start-up (orca-customizations.py in the prefs dir).
# Orca writes its --debug-file through a block-buffered file object and never
# flushes it; make it line-buffered so the log can be read while Orca runs.
from orca import debug as _d
try:
    if _d.debugFile:
        _d.debugFile.reconfigure(line_buffering=True)
except Exception:
    pass
"""

SPEAK_RE = re.compile(
    r"(\d\d:\d\d:\d\d\.\d+) - SPEECH DISPATCHER: Speaking '(.*?)' \n"
    r"\s+ORCA rate [^\n]*?language (\S*), punctuation[^\n]*\n"
    r"\s+SD rate [^\n]*?language (\S*)",
    re.S,
)


GEN_LANG_RE = re.compile(
    r"SPEECH GENERATOR: \S+ voice requested with "
    r"language='([^']*)', dialect='([^']*)'"
)


def parse_utterances(text):
    """All utterances Orca handed to speech-dispatcher, in order.

    text:       what was sent (SSML marks stripped)
    sd_lang:    language speech-dispatcher was told to use
    content_lang: last language Orca's speech generator saw in the content
                (from the page's lang attributes) before this utterance;
                Orca 43 logs it but does not switch voices with it.
    """
    out = []
    events = [(m.start(), "gen", m) for m in GEN_LANG_RE.finditer(text)]
    events += [(m.start(), "say", m) for m in SPEAK_RE.finditer(text)]
    content_lang = ""
    for _, kind, m in sorted(events, key=lambda e: e[0]):
        if kind == "gen":
            lang, dia = m.group(1), m.group(2)
            if lang not in ("", "None"):
                content_lang = lang + ("-" + dia if dia not in ("", "None") else "")
            continue
        s = re.sub(r"<[^>]+>", "", m.group(2))
        s = s.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        out.append(
            {
                "time": m.group(1),
                "text": s,
                "orca_lang": m.group(3),
                "sd_lang": m.group(4),
                "content_lang": content_lang,
            }
        )
    return out


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass


class CookieHandler(http.server.BaseHTTPRequestHandler):
    """Sets the --cookie cookies and redirects to the page, so Chromium opens it as a signed-in visitor.

    Cookies belong to a host, not to a port: this server on the page's own loopback host, another port,
    sets cookies that Chromium then sends to the page. No profile files or DevTools needed."""

    cookies = ()
    target = ""

    def do_GET(self):
        self.send_response(302)
        for cookie in self.cookies:
            self.send_header("Set-Cookie", f"{cookie}; Path=/; HttpOnly; SameSite=Lax")
        self.send_header("Location", self.target)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, fmt, *args):
        pass


class OrcaSession:
    def __init__(self, args):
        self.a = args
        self.run_id = uuid.uuid4().hex[:12]
        base = args.run_dir or tempfile.mkdtemp(prefix="orca_read.")
        self.R = os.path.abspath(base)
        os.makedirs(self.R, exist_ok=True)
        self.procs = []  # (name, Popen), start order
        self.httpd = None
        self.cookie_httpd = None
        self.t = {}  # timings
        self.debug_log = os.path.join(self.R, "orca-debug.log")
        self.env = None
        self._lockf = None

    # ---------------------------------------------------------------- utils
    def log(self, msg):
        if self.a.verbose:
            print(f"[orca_read {time.time() - self.t0:6.2f}s] {msg}", file=sys.stderr, flush=True)

    def spawn(self, name, cmd, **kw):
        # The child keeps its own copy of the log's descriptor; ours is closed at once.
        with open(os.path.join(self.R, name + ".log"), "wb") as out:
            p = subprocess.Popen(
                cmd,
                env=kw.pop("env", self.env),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                **kw,
            )
        self.procs.append((name, p))
        self.log(f"started {name} pid {p.pid}")
        return p

    def wait_for(self, pred, timeout, what, step=0.05):
        end = time.time() + timeout
        while time.time() < end:
            v = pred()
            if v:
                return v
            for name, p in self.procs:
                if p.poll() is not None and name in ("xvfb", "orca", "chromium"):
                    raise RuntimeError(
                        f"{name} exited (rc {p.returncode}) while waiting for {what}; see {self.R}/{name}.log"
                    )
            time.sleep(step)
        raise RuntimeError(f"timed out after {timeout}s waiting for {what} (run dir {self.R})")

    def read_log(self, start=0):
        try:
            with open(self.debug_log, "rb") as f:
                f.seek(start)
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_size(self):
        try:
            return os.path.getsize(self.debug_log)
        except OSError:
            return 0

    def settle(self, start, min_wait, quiet, max_wait, say_all_max=120):
        """Wait until Orca's debug log has stopped growing for `quiet` s.

        A say-all (KP_Add, or say-all-on-load) speaks chunk by chunk, each
        one only after speech-dispatcher reports the previous one done; under
        CPU load the log can be quiet for a while in between. So while a
        say-all is running ("WEB: SayAll called" without a matching
        "WEB: textLines complete") we keep waiting, up to say_all_max s.
        """
        t_start = time.time()
        last_size, last_change = self.log_size(), time.time()
        while True:
            time.sleep(0.05)
            now = time.time()
            size = self.log_size()
            if size != last_size:
                last_size, last_change = size, now
            if now - t_start >= max_wait:
                seg = self.read_log(start)
                in_say_all = seg.count("WEB: SayAll called") > seg.count("WEB: textLines complete")
                if not in_say_all or now - t_start >= say_all_max:
                    return False
            if now - t_start >= min_wait and now - last_change >= quiet:
                seg = self.read_log(start)
                if (
                    seg.count("WEB: SayAll called") > seg.count("WEB: textLines complete")
                    and now - t_start < say_all_max
                ):
                    continue
                return True

    # ---------------------------------------------------------------- start
    def start(self):
        self.t0 = time.time()
        # Orca refuses to run twice for one user ("pgrep -u UID -x orca"):
        # serialise runs on this machine, and fail clearly if a foreign Orca runs.
        self._lockf = open(LOCK_FILE, "w")
        fcntl.flock(self._lockf, fcntl.LOCK_EX)
        other = subprocess.run(
            ["pgrep", "-u", str(os.getuid()), "-x", "orca"], capture_output=True, text=True
        ).stdout.split()
        if other:
            raise RuntimeError(
                f"another Orca of this user is running (pids {other}); Orca "
                "would refuse to start. Not touching it."
            )

        R = self.R
        home = os.path.join(R, "home")
        xdg = os.path.join(R, "xdg-run")
        for d in (home, xdg, os.path.join(home, ".config"), os.path.join(R, "logs")):
            os.makedirs(d, exist_ok=True)
        os.chmod(xdg, 0o700)

        # ---- Xvfb: let it pick a free display number (-displayfd)
        rfd, wfd = os.pipe()
        with open(os.path.join(R, "xvfb.log"), "wb") as xvfb_log:
            xvfb = subprocess.Popen(
                [
                    "Xvfb",
                    "-displayfd",
                    str(wfd),
                    "-screen",
                    "0",
                    "1280x1024x24",
                    "-nolisten",
                    "tcp",
                    "-noreset",
                ],
                pass_fds=(wfd,),
                stdout=xvfb_log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=dict(PATH=SYS_PATH, ORCA_READ_RUN=self.run_id),
            )
        self.procs.append(("xvfb", xvfb))
        os.close(wfd)
        buf = b""
        end = time.time() + 20
        while not buf.endswith(b"\n") and time.time() < end:
            chunk = os.read(rfd, 16)
            if not chunk:
                break
            buf += chunk
        os.close(rfd)
        if not buf.strip():
            raise RuntimeError(f"Xvfb did not report a display; see {R}/xvfb.log")
        display = ":" + buf.decode().strip()
        self.display = display
        self.t["xvfb"] = time.time() - self.t0

        bus = "unix:path=" + os.path.join(xdg, "bus")
        self.env = {
            "PATH": SYS_PATH,
            "HOME": home,
            "USER": os.environ.get("USER", "root"),
            "LOGNAME": os.environ.get("LOGNAME", "root"),
            "XDG_RUNTIME_DIR": xdg,
            "XDG_CONFIG_HOME": os.path.join(home, ".config"),
            "XDG_DATA_HOME": os.path.join(home, ".local", "share"),
            "XDG_CACHE_HOME": os.path.join(home, ".cache"),
            "XDG_SESSION_TYPE": "x11",
            "DISPLAY": display,
            "DBUS_SESSION_BUS_ADDRESS": bus,
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            # accessibility switches (see REPORT.md for which ones matter)
            "ACCESSIBILITY_ENABLED": "1",
            "GNOME_ACCESSIBILITY": "1",
            "GTK_MODULES": "gail:atk-bridge",
            "SPEECHD_ADDRESS": "unix_socket:" + os.path.join(xdg, "speech-dispatcher", "speechd.sock"),
            "ORCA_READ_RUN": self.run_id,  # marker: every process we start carries it
        }
        self.env.update(self.a.extra_env)
        for k in self.a.unset_env:
            self.env.pop(k, None)

        # ---- D-Bus session bus
        self.spawn("dbus", ["dbus-daemon", "--session", "--nofork", "--nopidfile", "--address=" + bus])
        self.wait_for(lambda: os.path.exists(os.path.join(xdg, "bus")), 10, "session bus")

        # ---- AT-SPI bus (at-spi-bus-launcher starts the a11y dbus-daemon; the
        #      registry daemon is D-Bus-activated on it)
        self.spawn("atspi", ["/usr/libexec/at-spi-bus-launcher", "--launch-immediately"])

        def a11y_bus():
            r = subprocess.run(
                [
                    "gdbus",
                    "call",
                    "--session",
                    "--dest",
                    "org.a11y.Bus",
                    "--object-path",
                    "/org/a11y/bus",
                    "--method",
                    "org.a11y.Bus.GetAddress",
                ],
                env=self.env,
                capture_output=True,
                text=True,
                timeout=5,
            )
            return r.returncode == 0 and "unix:" in r.stdout

        self.wait_for(a11y_bus, 15, "AT-SPI bus", step=0.2)
        if not self.a.no_gsettings:
            # toolkit-accessibility=true (read by at-spi-bus-launcher and toolkits)
            subprocess.run(
                ["gsettings", "set", "org.gnome.desktop.interface", "toolkit-accessibility", "true"],
                env=self.env,
                capture_output=True,
                timeout=10,
            )
        self.t["atspi"] = time.time() - self.t0

        # ---- speech-dispatcher: espeak-ng, audio to libao null driver
        sdconf = os.path.join(home, ".config", "speech-dispatcher")
        shutil.copytree("/etc/speech-dispatcher", sdconf, dirs_exist_ok=True)
        keys = (
            "LogLevel",
            "LogDir",
            "AudioOutputMethod",
            "AudioPulseDevice",
            "DefaultModule",
            "DefaultLanguage",
            "AddModule",
        )
        with open(os.path.join(sdconf, "speechd.conf")) as f:
            lines = [line for line in f if line.strip().split(" ")[0] not in keys]
        audio = ['AudioOutputMethod "libao"\n']
        lines += (
            [
                "\n# --- orca_read overrides ---\n",
                f"LogLevel {self.a.speechd_loglevel}\n",
                'LogDir "{}"\n'.format(os.path.join(R, "logs")),
            ]
            + audio
            + [
                'AddModule "espeak-ng" "sd_espeak-ng" "espeak-ng.conf"\n',
                "DefaultModule espeak-ng\n",
                'DefaultLanguage "en"\n',
            ]
        )
        with open(os.path.join(sdconf, "speechd.conf"), "w") as f:
            f.writelines(lines)
        with open(os.path.join(home, ".libao"), "w") as f:
            f.write("default_driver=null\n")  # no sound device needed
        self.spawn(
            "speechd",
            [
                "speech-dispatcher",
                "-s",
                "-t",
                "0",
                "-l",
                str(self.a.speechd_loglevel),
                "-L",
                os.path.join(R, "logs"),
            ],
        )
        sock = os.path.join(xdg, "speech-dispatcher", "speechd.sock")
        self.wait_for(lambda: os.path.exists(sock), 15, "speech-dispatcher socket")
        self.t["speechd"] = time.time() - self.t0

        # ---- Orca
        prefs = os.path.join(R, "orca-prefs")
        os.makedirs(prefs, exist_ok=True)
        general = {
            "profile": ["Default", "default"],
            "activeProfile": ["Default", "default"],
            "startingProfile": ["Default", "default"],
            "enableSpeech": True,
            "speechServerFactory": "speechdispatcherfactory",
            "enableBraille": False,
            "enableKeyEcho": bool(self.a.key_echo),
            "sayAllOnLoad": bool(self.a.say_all_on_load),
            "pageSummaryOnLoad": not self.a.no_page_summary,
            "keyboardLayout": 2 if self.a.laptop_layout else 1,
        }
        general.update(self.a.orca_setting)
        with open(os.path.join(prefs, "user-settings.conf"), "w") as f:
            json.dump(
                {
                    "general": general,
                    "profiles": {
                        "default": {
                            "profile": ["Default", "default"],
                            "pronunciations": {},
                            "keybindings": {},
                        }
                    },
                    "pronunciations": {},
                    "keybindings": {},
                },
                f,
                indent=1,
            )
        open(os.path.join(prefs, "__init__.py"), "w").close()
        with open(os.path.join(prefs, "orca-customizations.py"), "w") as f:
            f.write(ORCA_CUSTOMIZATIONS)
        self.spawn("orca", ["/usr/bin/orca", "-u", prefs, "--debug-file", self.debug_log])
        self.wait_for(lambda: "ORCA: ATSPI registry initialized" in self.read_log(), 40, "Orca start-up")
        self.settle(0, 0.2, 0.3, 5)
        self.t["orca"] = time.time() - self.t0

        # ---- page: local file -> built-in HTTP server on 127.0.0.1
        url = self.a.url
        if not re.match(r"^[a-z]+:", url):
            path = os.path.abspath(url)
            d, name = (path, "") if os.path.isdir(path) else os.path.split(path)
            self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=d))
            threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
            url = f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"
        self.url = url
        if self.a.cookie:
            url = self.cookie_server(url)

        # ---- Chromium
        mark = self.log_size()
        prof = os.path.join(R, "chrome-profile")
        cmd = [
            "chromium",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--no-default-browser-check",
            "--user-data-dir=" + prof,
            # --test-type hides the "unsupported command-line flag: --no-sandbox"
            # infobar, which Orca otherwise reads and Tab walks into
            "--test-type",
            "--password-store=basic",
            "--disable-features=Translate,MediaRouter",
            "--window-position=0,0",
            "--window-size=1280,1000",
        ]
        if not self.a.no_force_a11y:
            cmd.append("--force-renderer-accessibility")
        cmd += self.a.chromium_arg + [url]
        self.spawn("chromium", cmd)
        # wait for Orca to announce the page ("Finished loading <title>")
        self.wait_for(
            lambda: re.search(r"SPEECH OUTPUT: 'Finished loading", self.read_log(mark)),
            self.a.load_timeout,
            "Orca to report the page loaded",
        )
        self.settle(mark, 0.3, self.a.quiet, 15)
        self.t["page_ready"] = time.time() - self.t0
        if self.a.focus_window:
            subprocess.run(
                "xdotool search --onlyvisible --class chromium | head -1 | "
                "xargs -r xdotool windowfocus --sync",
                shell=True,
                env=self.env,
                timeout=10,
            )
        self.startup_utterances = parse_utterances(self.read_log(0))
        self.mark = self.log_size()

    def cookie_server(self, url):
        """The address of a one-redirect server that sets the cookies for `url`'s loopback host."""
        host = re.match(r"^https?://([^/:]+)", url)
        if not host or host.group(1) not in ("127.0.0.1", "localhost"):
            raise RuntimeError(f"--cookie needs a page on 127.0.0.1 or localhost, not {url}")
        handler = type("Cookies", (CookieHandler,), {"cookies": tuple(self.a.cookie), "target": url})
        self.cookie_httpd = http.server.ThreadingHTTPServer((host.group(1), 0), handler)
        threading.Thread(target=self.cookie_httpd.serve_forever, daemon=True).start()
        return f"http://{host.group(1)}:{self.cookie_httpd.server_address[1]}/"

    # ---------------------------------------------------------------- keys
    def press(self, key):
        start = self.log_size()
        t = time.time()
        if key.startswith("type:"):
            subprocess.run(
                ["xdotool", "type", "--delay", "40", "--", key[5:]], env=self.env, check=True, timeout=60
            )
        elif key.startswith("sleep:"):
            time.sleep(float(key[6:]))
        elif key.startswith("nowait:"):
            # send and go on at once (e.g. to interrupt a say-all)
            subprocess.run(["xdotool", "key", key[7:]], env=self.env, check=True, timeout=20)
            time.sleep(0.3)
            return {
                "key": key,
                "utterances": parse_utterances(self.read_log(start)),
                "seconds": round(time.time() - t, 3),
                "settled": None,
            }
        elif key.startswith("load:"):
            # A key that loads a page: the server's answer can take longer than the quiet time on a busy
            # machine, and Orca says nothing until the page is there; so wait for the page, then settle.
            subprocess.run(["xdotool", "key", "--delay", "30", key[5:]], env=self.env, check=True, timeout=20)
            self.wait_for(
                lambda: "SPEECH OUTPUT: 'Finished loading" in self.read_log(start),
                self.a.load_timeout,
                f"Orca to report the page {key[5:]} loaded",
            )
        else:
            subprocess.run(["xdotool", "key", "--delay", "30", key], env=self.env, check=True, timeout=20)
        settled = self.settle(start, self.a.min_wait, self.a.quiet, self.a.max_wait)
        elapsed = time.time() - t
        utts = parse_utterances(self.read_log(start))
        return {"key": key, "utterances": utts, "seconds": round(elapsed, 3), "settled": settled}

    # ---------------------------------------------------------------- stop
    def stop(self):
        for server in (self.httpd, self.cookie_httpd):
            if server:
                server.shutdown()
                server.server_close()
        for name, p in reversed(self.procs):
            self.log(f"stopping {name}")
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    try:
                        os.killpg(p.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    p.wait(5)
        # stragglers started on our behalf (D-Bus-activated dconf-service,
        # at-spi2-registryd, speech modules, chromium helpers): they carry our
        # marker in their environment. Kill exactly those pids.
        marker = ("ORCA_READ_RUN=" + self.run_id).encode()
        for _ in range(2):
            left = []
            for pid in os.listdir("/proc"):
                if not pid.isdigit() or int(pid) == os.getpid():
                    continue
                try:
                    with open(f"/proc/{pid}/environ", "rb") as f:
                        if marker in f.read().split(b"\0"):
                            left.append(int(pid))
                except OSError:
                    pass
            for pid in left:
                try:
                    os.kill(pid, signal.SIGTERM if _ == 0 else signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.log(f"stragglers: {left}")
            if not left:
                break
            time.sleep(0.5)
        if self._lockf:
            self._lockf.close()


def read_page(url, keys=(), **options):
    """Library use: returns the result dict (see --json). Options are the
    long command-line options with '_' for '-', e.g. quiet=0.3, key_echo=True;
    cookies={"name": "value"} opens the page with those cookies (a signed-in session)."""
    cookies = options.pop("cookies", None) or {}
    if cookies:
        options["cookie"] = [*options.get("cookie", ()), *(f"{k}={v}" for k, v in cookies.items())]
    fd, path = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    argv = [url] + list(keys) + ["--json", path]
    for k, v in options.items():
        flag = "--" + k.replace("_", "-")
        if v is True:
            argv.append(flag)
        elif isinstance(v, (list, tuple)):
            for x in v:
                argv += [flag, str(x)]
        elif v not in (False, None):
            argv += [flag, str(v)]
    with contextlib.redirect_stdout(io.StringIO()):
        main(argv)
    with open(path) as f:
        res = json.load(f)
    os.unlink(path)
    return res


def spoken(step_or_steps):
    """Flatten utterances of one step (dict) or a list of steps to strings."""
    steps = [step_or_steps] if isinstance(step_or_steps, dict) else step_or_steps
    return [u["text"] for s in steps for u in s["utterances"]]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("url")
    ap.add_argument("keys", nargs="*")
    ap.add_argument("--json", help="write full results as JSON here")
    ap.add_argument("--run-dir", help="keep logs here (default: new temp dir)")
    ap.add_argument("--keep", action="store_true", help="do not delete the run dir")
    ap.add_argument("--key-echo", action="store_true", help="let Orca echo key names")
    ap.add_argument(
        "--say-all-on-load",
        action="store_true",
        help="Orca's default: read whole page on load (moves the caret to the end)",
    )
    ap.add_argument("--no-page-summary", action="store_true")
    ap.add_argument(
        "--laptop-layout",
        action="store_true",
        help="Orca laptop layout (Caps Lock modifier; say all = Insert/Caps+semicolon)",
    )
    ap.add_argument("--no-gsettings", action="store_true")
    ap.add_argument(
        "--focus-window", action="store_true", help="xdotool windowfocus the Chromium window after load"
    )
    ap.add_argument("--min-wait", type=float, default=0.25)
    ap.add_argument(
        "--quiet", type=float, default=0.5, help="a key is done when Orca's log is quiet this long"
    )
    ap.add_argument("--max-wait", type=float, default=10)
    ap.add_argument("--load-timeout", type=float, default=40)
    ap.add_argument("--speechd-loglevel", type=int, default=3)
    ap.add_argument("--chromium-arg", action="append", default=[])
    ap.add_argument(
        "--orca-setting", action="append", default=[], help="NAME=JSONVALUE, extra Orca general setting"
    )
    ap.add_argument(
        "--cookie",
        action="append",
        default=[],
        help="NAME=VALUE, a cookie Chromium has for the page's loopback host when it opens it (a session)",
    )
    ap.add_argument("--env", action="append", default=[], help="NAME=VALUE for all children")
    ap.add_argument("--unset-env", action="append", default=[], help="drop NAME from the children's env")
    ap.add_argument(
        "--no-force-a11y", action="store_true", help="do not pass --force-renderer-accessibility to Chromium"
    )
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args(argv)
    a.orca_setting = dict((k, json.loads(v)) for k, v in (s.split("=", 1) for s in a.orca_setting))
    a.extra_env = dict(s.split("=", 1) for s in a.env)

    s = OrcaSession(a)
    result = {"url": a.url, "ok": False}
    rc = 0
    try:
        s.start()
        result["url"] = s.url
        result["display"] = s.display
        result["startup"] = s.startup_utterances
        for u in s.startup_utterances:
            print("[load] " + u["text"], flush=True)
        steps = []
        for k in a.keys:
            st = s.press(k)
            steps.append(st)
            if not st["utterances"]:
                print(f"[{k}] (silence)", flush=True)
            for u in st["utterances"]:
                print("[{}] {}".format(k, u["text"]), flush=True)
        result["steps"] = steps
        result["ok"] = True
    except Exception as e:
        result["error"] = str(e)
        print(f"orca_read: ERROR: {e}", file=sys.stderr)
        rc = 2
    finally:
        s.t["total"] = time.time() - s.t0
        s.stop()
        result["timings"] = {k: round(v, 3) for k, v in s.t.items()}
        result["run_dir"] = s.R if (a.keep or a.run_dir or rc) else None
        if a.json:
            with open(a.json, "w") as f:
                json.dump(result, f, indent=1, ensure_ascii=False)
        if not (a.keep or a.run_dir or rc):
            shutil.rmtree(s.R, ignore_errors=True)
        elif a.verbose or rc:
            print(f"orca_read: logs kept in {s.R}", file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
