#!/usr/bin/env python3
"""Run a real Synapse on loopback with a skewed clock, for mxclock's tests.

Synapse (pinned, from PyPI) and the MSC4094 module in contrib/ live in a cached
venv under target/synapse-venv; libfaketime (Debian) shifts Synapse's wall
clock by a known, possibly fractional or negative, number of seconds.

CLI (for the Rust tests, which cannot import this; scripts/synapse-env.sh
runs the same with the same arguments)::

    python3 tests/synapse/harness.py install
    python3 tests/synapse/harness.py start --offset-s 37.25 [--module] \\
        --state-dir DIR [--watch-pid PID] [--max-lifetime-s 1800]
    python3 tests/synapse/harness.py register --state-dir DIR --username alice
    python3 tests/synapse/harness.py stop --state-dir DIR

The file is not called synapse.py on purpose: a directory holding it on
sys.path (unittest discovery adds it) would shadow the real `synapse` package.

`start` prints one JSON line (base_url, port, offset_s, pid,
registration_shared_secret, module, server_name, state_dir, log_path) and
leaves Synapse running; `stop` ends its whole process group. A watchdog
process stops Synapse when --watch-pid exits or --max-lifetime-s passes,
so a crashed test run never leaves a server behind.

Python API::

    with SynapseServer(offset_s=37.25, module=True) as hs:
        token = hs.register_user("alice", "pw")
        r = hs.request("GET", "/_matrix/client/versions", token=token)
        r.status, r.headers, r.json(), r.sent_s, r.received_s

The server is always stopped: by the context manager, by atexit, and on
SIGTERM/SIGINT/SIGHUP.

Only the standard library is used here, so any python3 can run the CLI.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import hashlib
import hmac
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

SYNAPSE_VERSION = "1.163.2"
UV_VERSION = "0.13.8"

REPO_ROOT = Path(__file__).resolve().parents[2]
MODULE_SRC = REPO_ROOT / "contrib" / "synapse-msc4094"
VENV = Path(os.environ.get("MXCLOCK_SYNAPSE_VENV", REPO_ROOT / "target" / "synapse-venv"))
VENV_PYTHON = VENV / "bin" / "python"
STAMP = VENV / "mxclock-stamp.json"
CONSTRAINTS = Path(__file__).resolve().parent / "constraints.txt"

# What the `faketime` wrapper itself puts into the environment; ld.so expands
# $LIB. We set it directly instead of running the wrapper: the wrapper forks,
# so the pid we would hold is not Synapse's, and it creates shared-memory
# objects in /dev/shm that leak whenever it is killed rather than exiting.
FAKETIME_LIB = "/usr/$LIB/faketime/libfaketime.so.1"
FAKETIME_LIB_GLOB = "/usr/lib/*/faketime/libfaketime.so.1"

SERVER_NAME = "localhost"
STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
STATE_FILE = "harness.json"


def log(msg: str) -> None:
    print(f"[synapse-harness] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Installation


def _module_digest() -> str:
    """Hash of the module's sources: a change reinstalls it into the venv."""
    h = hashlib.sha256()
    # Only the sources: pip's in-tree build leaves build/ and *.egg-info here.
    files = [MODULE_SRC / "pyproject.toml", *sorted((MODULE_SRC / "synapse_msc4094").glob("*.py"))]
    for p in files:
        h.update(str(p.relative_to(MODULE_SRC)).encode() + b"\0")
        h.update(p.read_bytes())
    return h.hexdigest()


def _wanted_stamp() -> dict[str, str]:
    return {
        "matrix-synapse": SYNAPSE_VERSION + " " + hashlib.sha256(CONSTRAINTS.read_bytes()).hexdigest(),
        "uv": UV_VERSION,
        "synapse-msc4094": _module_digest(),
    }


def _run(cmd: list[str], **kw: Any) -> None:
    log("$ " + " ".join(cmd))
    # Installers talk on stderr only: `start` owns stdout for its JSON line.
    sys.stdout.flush()
    subprocess.run(cmd, check=True, stdout=sys.stderr.fileno(), **kw)


def faketime_lib() -> str | None:
    import glob

    hits = glob.glob(FAKETIME_LIB_GLOB)
    return hits[0] if hits else None


def ensure_faketime() -> None:
    if faketime_lib():
        return
    if os.geteuid() != 0:
        raise RuntimeError("libfaketime is missing and we are not root: apt-get install faketime")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    _run(["apt-get", "update", "-qq"], env=env)
    _run(["apt-get", "install", "-y", "-qq", "faketime"], env=env)
    if not faketime_lib():
        raise RuntimeError("apt-get installed faketime but libfaketime.so.1 is not there")


def _venv_works() -> bool:
    try:
        return subprocess.run([str(VENV_PYTHON), "-c", "pass"], timeout=60).returncode == 0
    except OSError:
        return False


def _installer() -> list[str]:
    """`uv pip install` into the venv if uv can be had, else pip.

    uv (from PyPI) resolves and downloads in parallel: a clean install of
    Synapse took 25 s with it against 75 s with pip on this 2-core machine."""
    pip = [str(VENV_PYTHON), "-m", "pip", "--disable-pip-version-check", "-q"]
    uv = VENV / "bin" / "uv"
    try:
        _run(pip + ["install", "--prefer-binary", f"uv=={UV_VERSION}"])
        # --compile-bytecode: uv skips it by default, and with
        # PYTHONDONTWRITEBYTECODE set (CI sets it) every Synapse start would
        # compile Synapse and Twisted again (8-11 s starts instead of 5 s).
        return [str(uv), "pip", "install", "-q", "--compile-bytecode", "--python", str(VENV_PYTHON)]
    except subprocess.CalledProcessError:
        log("uv could not be installed: falling back to pip (slower)")
        return pip + ["install", "--prefer-binary"]


def ensure_venv() -> None:
    """Create or reuse target/synapse-venv with the pinned Synapse and the module."""
    wanted = _wanted_stamp()
    try:
        have = json.loads(STAMP.read_text())
    except (OSError, ValueError):
        have = {}
    if have == wanted and _venv_works():
        return
    if not _venv_works():
        if VENV.exists():
            shutil.rmtree(VENV)
        have = {}
        _run([sys.executable, "-m", "venv", str(VENV)])
    install = _installer()
    if have.get("matrix-synapse") != wanted["matrix-synapse"]:
        # Wheels only: every dependency has one for CPython on Linux, and a
        # source build (Rust, C) would take minutes. The constraints pin the
        # dependencies too, so a new Twisted cannot change what CI tests.
        extra = ["--only-binary", ":all:"] if "uv" in Path(install[0]).name else []
        _run(install + extra + ["-c", str(CONSTRAINTS), f"matrix-synapse=={SYNAPSE_VERSION}"])
    # Reinstall the module (no deps) whenever its sources change: its version
    # number does not.
    reinstall = ["--reinstall"] if "uv" in Path(install[0]).name else ["--force-reinstall"]
    _run(install + reinstall + ["--no-deps", str(MODULE_SRC)])
    STAMP.write_text(json.dumps(wanted))


def ensure_installed() -> None:
    """Idempotent and safe to call from parallel test processes: they queue
    on a lock file instead of building the same venv at once."""
    import fcntl

    VENV.parent.mkdir(parents=True, exist_ok=True)
    with open(VENV.parent / "synapse-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        ensure_faketime()
        ensure_venv()


# --------------------------------------------------------------------------
# Configuration


def free_port() -> int:
    # The kernel picks a free port; there is a small race until Synapse binds
    # it, which start() covers by retrying.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def faketime_spec(offset_s: float) -> str:
    """libfaketime relative offset: '+37.25', '-0.5'. Seconds, '.' decimal point.

    libfaketime parses the fraction itself (checked to the microsecond for
    ±1 day); repr-style formatting keeps every digit the float has.
    """
    if offset_s != offset_s or abs(offset_s) > 10 * 365 * 86400:
        raise ValueError(f"unreasonable offset {offset_s!r}")
    return ("+" if offset_s >= 0 else "-") + format(abs(offset_s), ".6f")


def _signing_key() -> str:
    # Synapse's key file format: "ed25519 <key id> <unpadded base64 seed>".
    seed = base64.b64encode(os.urandom(32)).decode().rstrip("=")
    return f"ed25519 a_{secrets.token_hex(2)} {seed}\n"


def write_config(state_dir: Path, port: int, module: bool, shared_secret: str) -> Path:
    relaxed = {"per_second": 10000, "burst_count": 10000}
    config: dict[str, Any] = {
        "server_name": SERVER_NAME,
        "pid_file": str(state_dir / "homeserver.pid"),
        "public_baseurl": f"http://127.0.0.1:{port}/",
        # Client API only, loopback only: no federation listener.
        "listeners": [
            {
                "port": port,
                "bind_addresses": ["127.0.0.1"],
                "type": "http",
                "tls": False,
                "x_forwarded": False,
                "resources": [{"names": ["client"], "compress": False}],
            }
        ],
        "database": {"name": "sqlite3", "args": {"database": str(state_dir / "homeserver.db")}},
        "log_config": str(state_dir / "log.config.yaml"),
        "media_store_path": str(state_dir / "media_store"),
        "signing_key_path": str(state_dir / "signing.key"),
        "report_stats": False,
        "enable_metrics": False,
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "federation_domain_whitelist": [],
        "url_preview_enabled": False,
        "presence": {"enabled": False},
        # Open registration (m.login.dummy, no verification) is fine on a
        # loopback-only throwaway server and spares clients the HMAC of the
        # shared-secret admin API, which register_user() uses.
        "enable_registration": True,
        "enable_registration_without_verification": True,
        "registration_shared_secret": shared_secret,
        "macaroon_secret_key": secrets.token_hex(32),
        "form_secret": secrets.token_hex(32),
        "rc_message": relaxed,
        "rc_registration": relaxed,
        "rc_login": {"address": relaxed, "account": relaxed, "failed_attempts": relaxed},
        "rc_joins": {"local": relaxed, "remote": relaxed},
        "rc_room_creation": relaxed,
        "rc_invites": {"per_room": relaxed, "per_user": relaxed, "per_issuer": relaxed},
        "rc_admin_redaction": relaxed,
        "rc_3pid_validation": relaxed,
        "rc_delayed_event_mgmt": relaxed,
        "modules": [{"module": "synapse_msc4094.ServerNowModule"}] if module else [],
    }
    log_config = {
        "version": 1,
        "formatters": {
            "precise": {
                "format": "%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(request)s - %(message)s"
            }
        },
        "handlers": {
            "file": {
                "class": "logging.FileHandler",
                "formatter": "precise",
                "filename": str(state_dir / "homeserver.log"),
                "filters": ["context"],
            }
        },
        "filters": {"context": {"()": "synapse.logging.context.LoggingContextFilter", "request": ""}},
        "root": {"level": "INFO", "handlers": ["file"]},
        "disable_existing_loggers": False,
    }
    # Every start is a fresh server: no users, rooms or events of a previous
    # run (with another clock offset) in a reused state dir.
    for name in ("homeserver.db", "homeserver.db-wal", "homeserver.db-shm", "homeserver.db-journal"):
        (state_dir / name).unlink(missing_ok=True)
    shutil.rmtree(state_dir / "media_store", ignore_errors=True)
    (state_dir / "media_store").mkdir()
    (state_dir / "signing.key").write_text(_signing_key())
    # JSON is YAML: no PyYAML needed on this side.
    (state_dir / "log.config.yaml").write_text(json.dumps(log_config, indent=1))
    path = state_dir / "homeserver.yaml"
    path.write_text(json.dumps(config, indent=1))
    return path


# --------------------------------------------------------------------------
# HTTP helpers (loopback, plain HTTP)


class Response:
    def __init__(self, status: int, headers: http.client.HTTPMessage, raw: bytes, t0: float, t1: float):
        self.status = status
        self.headers = headers
        self.raw = raw
        # Real (unskewed) wall-clock seconds around the exchange.
        self.sent_s = t0
        self.received_s = t1

    def json(self) -> Any:
        return json.loads(self.raw)

    def __repr__(self) -> str:
        return f"Response({self.status}, {self.raw[:200]!r})"


def http_request(
    port: int,
    method: str,
    path: str,
    body: Any = None,
    token: str | None = None,
    timeout_s: float = 30.0,
    conn: http.client.HTTPConnection | None = None,
) -> Response:
    own = conn is None
    if conn is None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    headers = {"Cache-Control": "no-cache"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    try:
        t0 = time.time()
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        t1 = time.time()
        return Response(resp.status, resp.headers, raw, t0, t1)
    finally:
        if own:
            conn.close()


# --------------------------------------------------------------------------
# The server


_live: set[SynapseServer] = set()
_live_lock = threading.Lock()
_handlers_installed = False


def _stop_all() -> None:
    with _live_lock:
        servers = list(_live)
    for s in servers:
        s.stop()


def _on_signal(signum: int, frame: Any) -> None:
    _stop_all()
    # Then die of the same signal, as the caller expects.
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def install_cleanup_handlers() -> None:
    """atexit + SIGTERM/SIGINT/SIGHUP handlers that stop every live server.
    start() calls it; call it yourself on the main thread before starting
    servers from other threads (signal handlers can only be set there)."""
    global _handlers_installed
    if _handlers_installed:
        return
    _handlers_installed = True
    atexit.register(_stop_all)
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            if signal.getsignal(sig) in (signal.SIG_DFL, signal.default_int_handler):
                signal.signal(sig, _on_signal)


def unlink_faketime_shm(pid: int) -> None:
    """libfaketime 0.9.10 creates /dev/shm/faketime_shm_<pid> and
    sem.faketime_sem_<pid> in every process it is preloaded into (unless
    FAKETIME_SHARED names a pair) and never removes them, even on a clean exit."""
    for name in (f"faketime_shm_{pid}", f"sem.faketime_sem_{pid}"):
        try:
            os.unlink(f"/dev/shm/{name}")
        except OSError:
            pass


def group_alive(pgid: int) -> bool:
    """Whether any process of the group is alive; zombies (exited, waiting for
    a parent to reap them) do not count."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for d in proc.iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        # Fields after the ")" that closes the command name: state, ppid, pgrp.
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def kill_group(pgid: int, pid: int | None = None, timeout_s: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM the process group, then SIGKILL what is left after timeout_s."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pid is not None:
            try:
                # Reap it if it is our child, so it does not stay a zombie.
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
        if not group_alive(pgid):
            return
        time.sleep(0.05)
    log(f"process group {pgid} ignored SIGTERM for {timeout_s} s: SIGKILL")
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return


class SynapseServer:
    """One Synapse process on 127.0.0.1 whose wall clock is real time + offset_s."""

    def __init__(
        self,
        offset_s: float = 0.0,
        module: bool = False,
        state_dir: str | Path | None = None,
        install: bool = True,
        watch_pid: int | None = -1,
        max_lifetime_s: float = 1800.0,
    ):
        """watch_pid: a watchdog stops Synapse when that process is gone, even
        if it was SIGKILLed and ran no cleanup; -1 (default) means this
        process, None only the max_lifetime_s limit."""
        self.offset_s = float(offset_s)
        self.faketime = faketime_spec(self.offset_s)
        self.module = module
        self._own_dir = state_dir is None
        self.state_dir = Path(state_dir) if state_dir else Path(tempfile.mkdtemp(prefix="mxclock-synapse-"))
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._install = install
        self.watch_pid = os.getpid() if watch_pid == -1 else watch_pid
        self.max_lifetime_s = max_lifetime_s
        self.watchdog_pid: int | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.registration_shared_secret = ""
        self.log_path = self.state_dir / "stdout-stderr.log"
        self._stopped = True

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    # -- lifecycle --

    def start(self) -> SynapseServer:
        if self._install:
            ensure_installed()
        lib = faketime_lib()
        if lib is None:
            raise RuntimeError("libfaketime is not installed")
        install_cleanup_handlers()
        last_err: Exception | None = None
        for _attempt in range(3):
            try:
                self._start_once()
                return self
            except _PortTaken as e:
                last_err = e
        raise RuntimeError(f"Synapse could not bind a port: {last_err}")

    def _start_once(self) -> None:
        self.port = free_port()
        self.registration_shared_secret = secrets.token_hex(16)
        cfg = write_config(self.state_dir, self.port, self.module, self.registration_shared_secret)
        env = dict(os.environ)
        env.update(
            {
                "LD_PRELOAD": FAKETIME_LIB,
                "FAKETIME": self.faketime,
                # No FAKETIME_DONT_FAKE_MONOTONIC: with it, libfaketime 0.9.10
                # still rewrites pthread_cond_timedwait deadlines, which Python's
                # GIL takes on CLOCK_MONOTONIC, so thread switches time out at
                # once or never: Synapse ran 20-100x slower or hung. Faked,
                # CLOCK_MONOTONIC reads like the faked wall clock: a constant
                # shift, which every interval and timeout survives.
                "PYTHONDONTWRITEBYTECODE": "1",
                # Synapse runs `git describe` next to its own sources for its
                # Server header; the venv is inside our checkout, so it would
                # report mxclock's branch and commit.
                "GIT_CEILING_DIRECTORIES": str(VENV),
            }
        )
        for k in (
            "FAKETIME_SHARED",
            "FAKETIME_DONT_FAKE_MONOTONIC",
            "FAKETIME_NO_CACHE",
            "FAKETIME_TIMESTAMP_FILE",
        ):
            env.pop(k, None)
        self.log_path = self.state_dir / "stdout-stderr.log"
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(
                [str(VENV_PYTHON), "-m", "synapse.app.homeserver", "-c", str(cfg)],
                cwd=self.state_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                # Own process group: stop() kills everything Synapse started.
                start_new_session=True,
            )
        self._stopped = False
        with _live_lock:
            _live.add(self)
        try:
            self._wait_ready()
            self.watchdog_pid = _spawn_watchdog(
                self.proc.pid,
                self.watch_pid,
                self.max_lifetime_s,
                self.state_dir,
                remove_state_dir=self._own_dir,
            )
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        assert self.proc is not None
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                tail = self.tail_log()
                if "Address already in use" in tail:
                    raise _PortTaken(tail[-300:])
                raise RuntimeError(f"Synapse exited with {rc} during startup:\n{tail}")
            try:
                r = http_request(self.port, "GET", "/_matrix/client/versions", timeout_s=2.0)
                if r.status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(
            f"Synapse did not answer /versions within {STARTUP_TIMEOUT_S} s:\n{self.tail_log()}"
        )

    def tail_log(self, n_bytes: int = 4000) -> str:
        out = []
        for p in (self.log_path, self.state_dir / "homeserver.log"):
            try:
                out.append(f"--- {p.name} ---\n" + p.read_bytes()[-n_bytes:].decode(errors="replace"))
            except OSError:
                pass
        return "\n".join(out)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self.proc is not None:
            kill_group(self.proc.pid, self.proc.pid)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            unlink_faketime_shm(self.proc.pid)
        if self.watchdog_pid is not None:
            # It would notice within 0.5 s; end it now so no process lingers.
            kill_group(self.watchdog_pid, self.watchdog_pid, timeout_s=2.0)
            self.watchdog_pid = None
        with _live_lock:
            _live.discard(self)
        if self._own_dir and not os.environ.get("MXCLOCK_SYNAPSE_KEEP"):
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def detach(self) -> None:
        """Leave the server running past this process (the CLI's `start`)."""
        with _live_lock:
            _live.discard(self)
        self._stopped = True

    def __enter__(self) -> SynapseServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def info(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "port": self.port,
            "offset_s": self.offset_s,
            "pid": self.pid,
            "registration_shared_secret": self.registration_shared_secret,
            "module": self.module,
            "server_name": SERVER_NAME,
            "state_dir": str(self.state_dir),
            "log_path": str(self.log_path),
        }

    # -- client helpers --

    def request(
        self, method: str, path: str, body: Any = None, token: str | None = None, **kw: Any
    ) -> Response:
        return http_request(self.port, method, path, body=body, token=token, **kw)

    def register_user(self, username: str, password: str, admin: bool = False) -> str:
        """Shared-secret registration (Synapse admin API); returns the access token."""
        return self.register_user_full(username, password, admin)["access_token"]

    def register_user_full(self, username: str, password: str, admin: bool = False) -> dict[str, Any]:
        """As register_user(), returning user_id, access_token and device_id."""
        path = "/_synapse/admin/v1/register"
        r = self.request("GET", path)
        if r.status != 200:
            raise RuntimeError(f"register nonce: {r}")
        nonce = r.json()["nonce"]
        mac = hmac.new(self.registration_shared_secret.encode(), digestmod=hashlib.sha1)
        mac.update(
            b"\x00".join(
                [nonce.encode(), username.encode(), password.encode(), b"admin" if admin else b"notadmin"]
            )
        )
        r = self.request(
            "POST",
            path,
            {
                "nonce": nonce,
                "username": username,
                "password": password,
                "admin": admin,
                "mac": mac.hexdigest(),
            },
        )
        if r.status != 200:
            raise RuntimeError(f"register: {r.status}")
        body = r.json()
        return {k: body[k] for k in ("user_id", "access_token", "device_id")}


class _PortTaken(Exception):
    pass


# --------------------------------------------------------------------------
# CLI


def _state_path(state_dir: Path) -> Path:
    return state_dir / STATE_FILE


def _spawn_watchdog(
    pgid: int, watch_pid: int | None, max_lifetime_s: float, state_dir: Path, remove_state_dir: bool = False
) -> int:
    """Start the watchdog in its own session (a process may not join a group of
    another session); it exits by itself once Synapse's group is gone."""
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "_watchdog",
        "--pgid",
        str(pgid),
        "--max-lifetime-s",
        str(max_lifetime_s),
    ]
    if watch_pid:
        cmd += ["--watch-pid", str(watch_pid)]
    if remove_state_dir:
        cmd += ["--remove-state-dir", str(state_dir)]
    with open(state_dir / "watchdog.log", "ab") as out:
        p = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return p.pid


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.rindex(")") + 2] != "Z"
    except OSError:
        return True


def cmd_watchdog(args: argparse.Namespace) -> int:
    deadline = time.monotonic() + args.max_lifetime_s
    while time.monotonic() < deadline:
        if not group_alive(args.pgid):
            unlink_faketime_shm(args.pgid)
            return 0  # stopped by someone else: nothing left to guard
        if args.watch_pid and not _pid_alive(args.watch_pid):
            log(f"watched pid {args.watch_pid} is gone: stopping Synapse")
            break
        time.sleep(0.5)
    else:
        log(f"max lifetime {args.max_lifetime_s} s reached: stopping Synapse")
    kill_group(args.pgid)
    unlink_faketime_shm(args.pgid)
    if args.remove_state_dir and not os.environ.get("MXCLOCK_SYNAPSE_KEEP"):
        # A temp dir whose owner died without cleaning up.
        shutil.rmtree(args.remove_state_dir, ignore_errors=True)
    return 0


def cmd_start(args: argparse.Namespace) -> int:
    state_dir = Path(args.state_dir).resolve()
    old = _state_path(state_dir)
    if old.exists():
        # A previous server from this state dir may still run: stop it first.
        cmd_stop(args)
    hs = SynapseServer(
        offset_s=args.offset_s,
        module=args.module,
        state_dir=state_dir,
        watch_pid=args.watch_pid,
        max_lifetime_s=args.max_lifetime_s,
    )
    hs.start()
    try:
        info = hs.info()
        _state_path(state_dir).write_text(json.dumps(dict(info, watchdog_pid=hs.watchdog_pid)))
    except BaseException:
        hs.stop()
        raise
    hs.detach()
    print(json.dumps(info), flush=True)
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    state_dir = Path(args.state_dir).resolve()
    path = _state_path(state_dir)
    try:
        info = json.loads(path.read_text())
    except FileNotFoundError:
        log(f"nothing to stop in {state_dir}")
        return 0
    pid = int(info["pid"])
    # pgid == pid: Synapse was started as a session leader. Only signal it if
    # that process still leads its group (the pid may have been reused).
    for leader in (pid, info.get("watchdog_pid")):
        if not leader:
            continue
        try:
            if os.getpgid(leader) == leader:
                kill_group(leader, None)
        except ProcessLookupError:
            pass
    unlink_faketime_shm(pid)
    path.unlink(missing_ok=True)
    print(json.dumps({"stopped": pid}), flush=True)
    return 0


def cmd_register(args: argparse.Namespace) -> int:
    """Create a user on a server started by `start`; prints user_id,
    access_token, device_id (a throwaway test server's token, for the test
    that asked for it)."""
    info = json.loads(_state_path(Path(args.state_dir).resolve()).read_text())
    hs = SynapseServer.__new__(SynapseServer)
    hs.port = int(info["port"])
    hs.registration_shared_secret = info["registration_shared_secret"]
    out = hs.register_user_full(args.username, args.password or secrets.token_hex(16), admin=args.admin)
    print(json.dumps(out), flush=True)
    return 0


def cmd_install(args: argparse.Namespace) -> int:
    t0 = time.monotonic()
    ensure_installed()
    print(
        json.dumps(
            {
                "venv": str(VENV),
                "matrix-synapse": SYNAPSE_VERSION,
                "faketime": faketime_lib(),
                "seconds": round(time.monotonic() - t0, 1),
            }
        )
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("install", help="create/refresh the cached venv and install faketime")
    st = sub.add_parser("start", help="start Synapse and print one JSON line")
    st.add_argument("--offset-s", type=float, default=0.0, help="server clock minus real clock, seconds")
    st.add_argument("--module", action="store_true", help="enable the MSC4094 module")
    st.add_argument("--state-dir", required=True)
    st.add_argument("--watch-pid", type=int, default=None, help="stop Synapse when this pid exits")
    st.add_argument("--max-lifetime-s", type=float, default=1800.0)
    sp = sub.add_parser("stop", help="stop the Synapse started with this state dir")
    sp.add_argument("--state-dir", required=True)
    rg = sub.add_parser("register", help="create a user; prints user_id, access_token, device_id")
    rg.add_argument("--state-dir", required=True)
    rg.add_argument("--username", required=True)
    rg.add_argument("--password", default=None, help="default: random")
    rg.add_argument("--admin", action="store_true")
    wd = sub.add_parser("_watchdog")
    wd.add_argument("--pgid", type=int, required=True)
    wd.add_argument("--watch-pid", type=int, default=None)
    wd.add_argument("--max-lifetime-s", type=float, required=True)
    wd.add_argument("--remove-state-dir", default=None)
    args = ap.parse_args(argv)
    return {
        "install": cmd_install,
        "start": cmd_start,
        "stop": cmd_stop,
        "register": cmd_register,
        "_watchdog": cmd_watchdog,
    }[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
