"""A throwaway PostgreSQL primary and one streaming-replication standby on free loopback
ports, for disaster-recovery drills: kill the primary, promote the standby, check the data.

The machine's own cluster on 127.0.0.1:5432 is never touched: both servers live in a fresh
directory under /tmp, listen on 127.0.0.1 only, and keep their unix sockets in that directory.
initdb and postgres refuse to run as root, so when the tests run as root every server command
runs as the ``postgres`` OS user (through ``runuser``)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import psutil
import psycopg

from tests._support import free_port

__all__ = ["PgCluster", "pg_binaries"]

_PG_ROOT = Path("/usr/lib/postgresql")
_OS_USER = "postgres"
_STANDBY_NAME = "slokit_standby"  # application_name: what pg_stat_replication shows
_CMD_TIMEOUT = 60.0  # any single initdb / pg_ctl / pg_basebackup call
_READY_TIMEOUT = 30.0  # until the standby streams
_LOG_TAIL = 4000  # characters of a server log put into a start failure


def pg_binaries() -> Path | None:
    """The newest installed PostgreSQL bin dir (``/usr/lib/postgresql/<v>/bin``), or None."""
    found: list[tuple[int, Path]] = []
    for bin_dir in _PG_ROOT.glob("*/bin"):
        version = bin_dir.parent.name
        if version.isdigit() and all(
            (bin_dir / name).is_file() for name in ("initdb", "pg_ctl", "pg_basebackup")
        ):
            found.append((int(version), bin_dir))
    return max(found)[1] if found else None


def _as_root() -> bool:
    return os.geteuid() == 0


def _as_postgres(argv: list[str]) -> list[str]:
    # runuser also sets the postgres user's groups and HOME, which subprocess's user= does not.
    return ["runuser", "-u", _OS_USER, "--", *argv] if _as_root() else argv


def _tail(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-_LOG_TAIL:]
    except OSError as exc:
        return f"<no log at {path}: {exc}>"


def _processes_of(data: Path) -> list[psutil.Process]:
    """Every process of the server on ``data``: the postmaster names it in its command line,
    and every postgres process (also a backend orphaned by a killed postmaster) runs in it."""
    mine: list[psutil.Process] = []
    needle = str(data)
    for proc in psutil.process_iter():
        try:
            cwd = proc.cwd()
            if cwd == needle or cwd.startswith(needle + os.sep) or needle in proc.cmdline():
                mine.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return mine


class PgCluster:
    """A primary and one streaming standby, started and always stopped by the test."""

    def __init__(self, *, synchronous: bool) -> None:
        bin_dir = pg_binaries()
        if bin_dir is None:
            raise RuntimeError(f"no PostgreSQL binaries under {_PG_ROOT}/*/bin")
        self.synchronous = synchronous
        self.bin_dir: Path = bin_dir
        self.pg_ctl: Path = bin_dir / "pg_ctl"
        # Under /tmp, not pytest's tmp_path: postgres must be able to reach the directory.
        self.root = Path(tempfile.mkdtemp(prefix="slokit-pg-"))
        self.primary_data: Path = self.root / "primary"
        self.standby_data: Path = self.root / "standby"
        self.primary_log: Path = self.root / "primary.log"
        self.standby_log: Path = self.root / "standby.log"
        self.primary_port: int = free_port()
        self.standby_port: int = free_port()
        while self.standby_port == self.primary_port:
            self.standby_port = free_port()
        self.primary_dsn: str = f"postgresql://postgres@127.0.0.1:{self.primary_port}/postgres"
        self.standby_dsn: str = f"postgresql://postgres@127.0.0.1:{self.standby_port}/postgres"
        self._stopped = False

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> PgCluster:
        try:
            self._prepare_root()
            self._init_primary()
            self._start(self.primary_data, self.primary_log)
            self._base_backup()
            self._start(self.standby_data, self.standby_log)
            self._wait_streaming()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop both servers and remove the cluster root. Idempotent; never raises."""
        if self._stopped:
            return
        self._stopped = True
        for data in (self.standby_data, self.primary_data):
            with contextlib.suppress(Exception):
                self._stop_server(data)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PgCluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- what a drill uses -------------------------------------------------------------------

    def primary_pid(self) -> int:
        """The primary's postmaster pid (first line of its postmaster.pid)."""
        return int((self.primary_data / "postmaster.pid").read_text().splitlines()[0])

    def promote_command(self) -> list[str]:
        """The argv that promotes the standby (as the postgres user) and waits until it is."""
        return _as_postgres(
            [str(self.pg_ctl), "promote", "-w", "-t", "30", "-D", str(self.standby_data)]
        )

    def restart_primary(self) -> None:
        """Start the stopped or killed primary again, on its old port."""
        # Backends orphaned by a killed postmaster still hold its shared memory; a new
        # postmaster refuses to start until they are gone.
        self._kill_leftovers(self.primary_data)
        self._start(self.primary_data, self.primary_log)

    # -- internals ---------------------------------------------------------------------------

    def _run(self, argv: list[str], what: str, log: Path | None = None) -> None:
        # cwd=root: postgres cannot chdir back into a root-only working directory.
        try:
            done = subprocess.run(
                _as_postgres(argv),
                cwd=self.root,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=_CMD_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(f"{what} timed out after {_CMD_TIMEOUT}s: {argv}") from exc
        if done.returncode != 0:
            detail = f"\n--- {log.name} ---\n{_tail(log)}" if log is not None else ""
            raise RuntimeError(
                f"{what} failed ({done.returncode}): {argv}\n"
                f"{done.stdout[-_LOG_TAIL:]}{done.stderr[-_LOG_TAIL:]}{detail}"
            )

    def _prepare_root(self) -> None:
        # 0755 so postgres can traverse; owned by postgres so it can write its logs and sockets.
        self.root.chmod(0o755)
        for data in (self.primary_data, self.standby_data):
            data.mkdir(mode=0o700)
            data.chmod(0o700)  # postgres refuses a group/world-readable data dir
        if _as_root():
            for path in (self.root, self.primary_data, self.standby_data):
                shutil.chown(path, _OS_USER, _OS_USER)

    def _init_primary(self) -> None:
        self._run(
            [
                str(self.bin_dir / "initdb"),
                "-D",
                str(self.primary_data),
                "-U",
                "postgres",
                "--auth=trust",  # local and 127.0.0.1 host lines, replication included
                "--no-locale",
                "--encoding=UTF8",
                "--no-sync",  # a test cluster: no need to wait for the disk
            ],
            "initdb",
        )
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.primary_port),
            "unix_socket_directories": f"'{self.root}'",
            "wal_level": "replica",
            "max_wal_senders": "5",
            "hot_standby": "on",
            "max_connections": "30",
            "shared_buffers": "16MB",
            "fsync": "off",  # kill -9 of a postmaster loses nothing; only an OS crash would
            "logging_collector": "off",
        }
        if self.synchronous:
            # A commit returns only once the standby has applied it: reads there see it at once.
            settings["synchronous_standby_names"] = f"'{_STANDBY_NAME}'"
            settings["synchronous_commit"] = "remote_apply"
        self._append_conf(self.primary_data, settings)

    def _base_backup(self) -> None:
        self._run(
            [
                str(self.bin_dir / "pg_basebackup"),
                "-d",
                f"host=127.0.0.1 port={self.primary_port} user=postgres",
                "-D",
                str(self.standby_data),
                "-X",
                "stream",
                "-c",
                "fast",  # an immediate checkpoint, not a spread one
                "--no-sync",
            ],
            "pg_basebackup",
            self.primary_log,
        )
        # Written here rather than by -R: the conninfo must carry our application_name, which
        # is what synchronous_standby_names and pg_stat_replication match.
        (self.standby_data / "standby.signal").touch()
        self._append_conf(
            self.standby_data,
            {
                "port": str(self.standby_port),
                "primary_conninfo": (
                    f"'host=127.0.0.1 port={self.primary_port} user=postgres "
                    f"application_name={_STANDBY_NAME}'"
                ),
                # The copied primary config would make the promoted standby wait for a
                # synchronous standby of its own, and block every commit.
                "synchronous_standby_names": "''",
                "synchronous_commit": "on",
            },
        )
        if _as_root():
            for path in (
                self.standby_data / "standby.signal",
                self.standby_data / "postgresql.conf",
            ):
                shutil.chown(path, _OS_USER, _OS_USER)

    @staticmethod
    def _append_conf(data: Path, settings: dict[str, str]) -> None:
        # Later lines win in postgresql.conf, so appending overrides initdb's defaults.
        lines = "".join(f"{key} = {value}\n" for key, value in settings.items())
        with (data / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write("\n# slokit tests/_pgcluster.py\n" + lines)

    def _start(self, data: Path, log: Path) -> None:
        # -w: return once the server accepts connections (a hot standby: once consistent).
        self._run(
            [str(self.pg_ctl), "start", "-w", "-t", "30", "-D", str(data), "-l", str(log)],
            f"starting the server in {data}",
            log,
        )

    def _wait_streaming(self) -> None:
        want_sync = "sync" if self.synchronous else "async"
        deadline = time.monotonic() + _READY_TIMEOUT
        last: object = "no row in pg_stat_replication"
        for _ in range(int(_READY_TIMEOUT / 0.1) + 1):
            if time.monotonic() > deadline:
                break
            with psycopg.connect(self.primary_dsn, autocommit=True, connect_timeout=5) as conn:
                row = conn.execute(
                    "SELECT state, sync_state FROM pg_stat_replication WHERE application_name = %s",
                    (_STANDBY_NAME,),
                ).fetchone()
            if row is not None:
                last = row
                if row == ("streaming", want_sync):
                    return
            time.sleep(0.1)
        raise RuntimeError(
            f"standby not streaming ({want_sync}) within {_READY_TIMEOUT}s; last: {last}\n"
            f"--- standby.log ---\n{_tail(self.standby_log)}\n"
            f"--- primary.log ---\n{_tail(self.primary_log)}"
        )

    def _stop_server(self, data: Path) -> None:
        if (data / "postmaster.pid").exists():
            argv = [str(self.pg_ctl), "stop", "-m", "immediate", "-w", "-t", "10", "-D", str(data)]
            # Fails fast (and harmlessly) when the postmaster was killed: the pid is gone.
            with contextlib.suppress(subprocess.TimeoutExpired):
                subprocess.run(
                    _as_postgres(argv),
                    cwd=self.root,
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    timeout=15,
                    check=False,
                )
        self._kill_leftovers(data)

    @staticmethod
    def _kill_leftovers(data: Path) -> None:
        """SIGKILL what still runs on ``data`` (a hung postmaster, orphaned backends); wait."""
        for _ in range(50):  # 50 x 0.1 s at most
            procs = _processes_of(data)
            if not procs:
                return
            for proc in procs:
                with contextlib.suppress(psutil.Error):
                    proc.send_signal(signal.SIGKILL)
            psutil.wait_procs(procs, timeout=0.1)
