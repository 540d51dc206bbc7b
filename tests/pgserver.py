"""A throwaway PostgreSQL server for one test session.

The tests must not depend on how a shared server is configured (log-based replication needs
``wal_level=logical``, the fault tests need free connections and replication slots), so the
session starts its own cluster from the installed server binaries, in a temporary directory,
on a free loopback port, with the settings the tests need, and removes it at the end.

Order of choice (``pg_server_dsn`` in conftest.py):

1. ``SLUICE_TEST_PG`` when it is set: that server is used as it is;
2. a throwaway cluster, when ``initdb`` and ``pg_ctl`` are found (``PATH``, ``pg_config
   --bindir``, ``/usr/lib/postgresql/*/bin``, ``/usr/pgsql-*/bin``);
3. otherwise the tests that need PostgreSQL skip, naming what is missing (fail under CI=true).

PostgreSQL refuses to run as root: as root, the cluster is made and run as the ``postgres``
system user (``runuser``), in a directory that user owns.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

__all__ = ["ThrowawayServer", "find_server_bin"]

SETTINGS = {
    "wal_level": "logical",
    "max_replication_slots": "40",
    "max_wal_senders": "40",
    "max_connections": "300",
    "fsync": "off",  # the tests kill clients, never this server; a lost server is a lost test run
    "full_page_writes": "off",
    "shared_buffers": "64MB",
    "listen_addresses": "127.0.0.1",
}


def find_server_bin() -> Path | None:
    """The directory holding initdb and pg_ctl, or None."""
    candidates: list[str] = []
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(str(Path(on_path).resolve().parent))
    pg_config = shutil.which("pg_config")
    if pg_config:
        done = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if done.returncode == 0:
            candidates.append(done.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    candidates += sorted(glob.glob("/usr/pgsql-*/bin"), reverse=True)
    for folder in candidates:
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ThrowawayServer:
    """initdb + pg_ctl start in a temporary directory; ``stop()`` removes everything."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = _free_port()
        self.root = Path(tempfile.mkdtemp(prefix="sluice-test-pg-"))
        self.data = self.root / "data"
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            import pwd

            try:
                user = pwd.getpwnam("postgres")
            except KeyError as exc:
                raise RuntimeError("running as root and there is no 'postgres' system user to run the server") from exc
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        done = subprocess.run([*self._as_user, *args], capture_output=True, text=True, check=False, timeout=120)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
            raise RuntimeError(f"{Path(args[0]).name} failed: {' / '.join(tail)}")

    def start(self) -> str:
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                  "-E", "UTF8", "--locale=C", "--no-sync")
        options = " ".join(f"-c {k}={v}" for k, v in SETTINGS.items())
        options += f" -c unix_socket_directories={self.root} -p {self.port}"
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", options,
                  "-l", str(self.root / "server.log"), "-w", "-t", "60", "start")
        return self.dsn

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run([*self._as_user, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                            "-w", "stop"], capture_output=True, check=False, timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)
