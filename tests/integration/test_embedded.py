"""The embedded PostgreSQL and Redis of `agentctl up`: started, reused, stopped, restarted with their data."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import psutil
import pytest
import redis.asyncio

from serve_app import embedded
from serve_app.embedded import ServiceError, Services, ensure_services, stop_services
from serve_app.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def _unsupported() -> str | None:
    try:
        binaries = [embedded.postgres_bin() / "postgres", embedded.redis_server()]
    except ServiceError as exc:
        return str(exc)
    for binary in binaries:
        try:
            done = subprocess.run([str(binary), "--version"], capture_output=True, timeout=10, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"the embedded {binary.name} cannot run on this platform: {exc}"
        if done.returncode != 0:
            return f"the embedded {binary.name} cannot run on this platform: exit {done.returncode}"
    return None


UNSUPPORTED = _unsupported()
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(UNSUPPORTED is not None, reason=UNSUPPORTED or ""),
]


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A data directory under /tmp that others may traverse (as root, PostgreSQL runs as another user;
    pytest's tmp_path sits below a 0700 directory that pytest keeps private)."""
    path = Path(tempfile.mkdtemp(prefix="agents-embedded-"))
    path.chmod(0o755)
    try:
        yield path / "data"
    finally:
        stop_services(_settings(path / "data"))
        shutil.rmtree(path)


def _settings(data_dir: Path, **urls: str) -> Settings:
    return Settings(data_dir=data_dir, database_url=urls.get("database_url"), redis_url=urls.get("redis_url"))


def _pids(data_dir: Path) -> dict[str, int]:
    state = json.loads((data_dir / embedded.STATE_FILE).read_text())
    return {name: entry["pid"] for name, entry in state.items() if "pid" in entry}


def _port(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None
    return port


def _answers(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's exit is collected by init a little later)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _leftovers(data_dir: Path, ports: list[int]) -> list[str]:
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        command = " ".join(process.info["cmdline"] or [])
        ours = str(data_dir) in command or any(f"127.0.0.1:{port}" in command for port in ports)
        if ours and process.info["name"] in ("postgres", "redis-server") and _running(process.pid):
            found.append(f"{process.pid} {command}")
    return found


async def _write(services: Services) -> None:
    connection = await asyncpg.connect(services.database_url)
    try:
        await connection.execute("CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL)")
        await connection.execute("INSERT INTO notes VALUES (1, 'kept')")
    finally:
        await connection.close()
    client = redis.asyncio.Redis.from_url(services.redis_url)
    try:
        assert await client.set("note", "kept")
    finally:
        await client.aclose()


async def _read(services: Services) -> tuple[str | None, bytes | str | None]:
    connection = await asyncpg.connect(services.database_url)
    try:
        row: str | None = await connection.fetchval("SELECT body FROM notes WHERE id = 1")
    finally:
        await connection.close()
    client = redis.asyncio.Redis.from_url(services.redis_url)
    try:
        value = await client.get("note")
    finally:
        await client.aclose()
    return row, value


def _start_in_another_process(data_dir: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from serve_app.embedded import ensure_services;"
        "from serve_app.settings import Settings;"
        "print(ensure_services(Settings(data_dir=Path(sys.argv[1]), database_url=None, redis_url=None)))"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    done = subprocess.run(
        [sys.executable, "-c", code, str(data_dir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "started=['postgres', 'redis']" in done.stdout


async def test_started_reused_stopped_and_restarted_with_the_data(data_dir: Path) -> None:
    settings = _settings(data_dir)
    _start_in_another_process(data_dir)  # the servers outlive the process that started them
    first = ensure_services(settings)
    assert first.started == []
    pg_port, redis_port = _port(first.database_url), _port(first.redis_url)
    assert first.database_url == f"postgresql://postgres@127.0.0.1:{pg_port}/agents"
    assert first.redis_url == f"redis://127.0.0.1:{redis_port}/0"
    assert pg_port not in (5432, 6379) and redis_port not in (5432, 6379)
    pids = _pids(data_dir)
    assert set(pids) == {"postgres", "redis"}
    await _write(first)

    again = ensure_services(settings)
    assert (again.database_url, again.redis_url, again.started) == (first.database_url, first.redis_url, [])
    assert _pids(data_dir) == pids

    assert stop_services(settings) == 2
    assert not any(_running(pid) for pid in pids.values())
    assert not _answers(pg_port) and not _answers(redis_port)
    state = json.loads((data_dir / embedded.STATE_FILE).read_text())
    assert state["postgres"]["port"] == pg_port and state["redis"]["port"] == redis_port
    assert _pids(data_dir) == {}
    kept = {p.name for p in (data_dir / "redis").iterdir()}
    assert {"appendonly.aof", "dump.rdb", "redis.conf", "tmp"} <= kept

    restarted = ensure_services(settings)
    assert sorted(restarted.started) == ["postgres", "redis"]
    assert (restarted.database_url, restarted.redis_url) == (first.database_url, first.redis_url)
    assert await _read(restarted) == ("kept", b"kept")

    assert stop_services(settings) == 2
    assert stop_services(settings) == 0
    assert _leftovers(data_dir, [pg_port, redis_port]) == []
    assert not _answers(pg_port) and not _answers(redis_port)
    if os.geteuid() == 0:
        assert (data_dir / "postgres").stat().st_uid == pwd.getpwnam(embedded.PG_SYSTEM_USER).pw_uid


def test_external_urls_are_returned_untouched_and_nothing_starts(data_dir: Path) -> None:
    database_url = "postgresql://app:secret@db.example:5432/agents"
    redis_url = "redis://:secret@cache.example:6379/2"
    services = ensure_services(_settings(data_dir, database_url=database_url, redis_url=redis_url))
    assert services == Services(database_url, redis_url, [])
    assert not data_dir.exists()
    assert stop_services(_settings(data_dir)) == 0
    assert embedded.url_without_password(database_url) == "postgresql://app@db.example:5432/agents"
    assert embedded.url_without_password(services.redis_url) == "redis://cache.example:6379/2"


def test_a_server_that_fails_to_start_names_its_log(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(data_dir, database_url="postgresql://elsewhere/agents")
    monkeypatch.setattr(embedded, "_redis_config", lambda *_: "no-such-directive yes\n")
    with pytest.raises(ServiceError) as redis_failure:
        ensure_services(settings)
    assert redis_failure.value.log_file == data_dir / "logs" / "redis.log"
    assert "no-such-directive" in str(redis_failure.value)

    (data_dir / "postgres").mkdir(mode=0o700)
    (data_dir / "postgres" / "PG_VERSION").write_text("18\n")  # a data directory without its files
    with pytest.raises(ServiceError) as pg_failure:
        ensure_services(_settings(data_dir, redis_url="redis://elsewhere/0"))
    assert pg_failure.value.log_file == data_dir / "logs" / "postgres.log"
    assert "PostgreSQL did not start" in str(pg_failure.value)
    assert pg_failure.value.tail
    assert _leftovers(data_dir, []) == []
