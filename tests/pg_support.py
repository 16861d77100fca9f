"""A real PostgreSQL server for the tests: a throw-away cluster in a temp dir, on 127.0.0.1 and a free port.

It uses Debian's ``postgresql`` package (``make postgres`` installs it); nothing is mocked. One server runs
per test session (the ``pg_server`` fixture) and every test that wants a database gets a fresh, empty one
(``pg_url``). The cluster is made with ``initdb`` (trust auth, superuser ``dzqa``, UTF8) and keeps
``fsync`` on, so a test may stop, restart or kill the server and count on every acknowledged row surviving.

As root (``initdb`` refuses to run as root) every PostgreSQL program runs as the ``postgres`` system user
(or ``nobody`` when there is none) through ``runuser``, in a temp dir that user owns.

    server = PgServer()
    server.start()
    url = server.create_database()   # postgresql://dzqa@127.0.0.1:PORT/dzqa_test_1_...
    server.restart(); server.kill(); server.start()
    server.cleanup()
"""

from __future__ import annotations

import atexit
import functools
import glob
import itertools
import os
import pwd
import re
import shutil
import socket
import stat
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Iterator, Optional, Sequence

try:
    import pytest
except ImportError:  # the server itself also works from a plain script, without pytest
    pytest = None  # type: ignore[assignment]

NOT_FOUND = "PostgreSQL server binaries not found: install Debian's postgresql package (`make postgres`)"
#: the cluster's superuser (trust auth: no password)
USER = "dzqa"
#: lines of the server log quoted in an error
LOG_TAIL = 40
#: settings appended to the cluster's postgresql.conf after initdb (the port is given at each start)
SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "on",
    "synchronous_commit": "on",
    "full_page_writes": "on",
    "shared_buffers": "32MB",
    "max_connections": "200",
    "logging_collector": "off",
    "log_line_prefix": "'%m [%p] %q%u@%d '",
}


class PgNotFound(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


def find_bindir() -> Path:
    """The bin dir of the newest PostgreSQL server under /usr/lib/postgresql (initdb and pg_ctl both there).

    ``pg_config --bindir`` is not asked: on Debian it belongs to libpq-dev and may name a dir without a server.
    """
    def version(path: str) -> tuple[int, ...]:
        name = Path(path).parent.name
        return tuple(int(p) for p in re.findall(r"\d+", name)) or (0,)

    for cand in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True):
        if all(os.access(os.path.join(cand, prog), os.X_OK) for prog in ("initdb", "pg_ctl", "postgres")):
            return Path(cand)
    raise PgNotFound(NOT_FOUND)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _service_user() -> pwd.struct_passwd:
    """The unprivileged user the cluster runs as when the tests run as root."""
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root, and neither a `postgres` nor a `nobody` user exists to run PostgreSQL as")


@functools.lru_cache(maxsize=None)
def _has_c_utf8() -> bool:
    try:
        out = subprocess.run(["locale", "-a"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return any(line.strip().lower().replace("-", "") == "c.utf8" for line in out.splitlines())


def _reachable_base() -> Path:
    """A root-owned 0755 dir in $TMPDIR (or /tmp when others cannot reach $TMPDIR) for the cluster's dir."""
    tmp = Path(tempfile.gettempdir()).resolve()
    if not all(p.stat().st_mode & stat.S_IXOTH for p in [tmp, *tmp.parents]):
        tmp = Path("/tmp")
    base = tmp / "dzqa-pg"
    try:
        base.mkdir(mode=0o755)
    except FileExistsError:
        pass
    st = os.lstat(base)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != 0:  # never follow someone else's symlink or dir as root
        raise RuntimeError(f"{base} exists and is not a root-owned directory: remove it")
    os.chmod(base, 0o755)
    return base


class PgServer:
    """One throw-away PostgreSQL cluster: ``start()`` makes it on first use; ``cleanup()`` removes it."""

    def __init__(self, bindir: Optional[Path] = None) -> None:
        self.bindir: Path = Path(bindir) if bindir else find_bindir()
        self.port: Optional[int] = None
        self._as: Optional[pwd.struct_passwd] = _service_user() if os.geteuid() == 0 else None
        if self._as is not None:
            self.tempdir = Path(tempfile.mkdtemp(prefix="pg-", dir=_reachable_base()))
            os.chown(self.tempdir, self._as.pw_uid, self._as.pw_gid)
        else:
            self.tempdir = Path(tempfile.mkdtemp(prefix="dzqa-pg-"))
        self.datadir: Path = self.tempdir / "data"
        self.sockdir: Path = self.tempdir / "sock"
        self.logfile: Path = self.tempdir / "server.log"
        self._names = itertools.count(1)
        atexit.register(self.cleanup)  # a script that forgets cleanup() leaves no server running behind it

    # -- running the programs -------------------------------------------------------------------------

    def _cmd(self, prog: str, *args: str) -> list[str]:
        cmd = [str(self.bindir / prog), *args]
        if self._as is None:
            return cmd
        if shutil.which("runuser"):
            return ["runuser", "-u", self._as.pw_name, "--", *cmd]
        if shutil.which("setpriv"):
            return ["setpriv", f"--reuid={self._as.pw_uid}", f"--regid={self._as.pw_gid}", "--init-groups", "--", *cmd]
        raise RuntimeError("running as root, and neither runuser nor setpriv is there to drop to an unprivileged user")

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG") and not k.startswith("LC_")}
        env.pop("LANG", None)
        env["LC_ALL"] = "C.UTF-8" if _has_c_utf8() else "C"  # messages in English, whatever the caller's locale
        env["PGCLIENTENCODING"] = "UTF8"
        env["PGCONNECT_TIMEOUT"] = "10"
        if self._as is not None:
            env["HOME"] = str(self.tempdir)
            env["USER"] = env["LOGNAME"] = self._as.pw_name
        return env

    def log_tail(self, lines: int = LOG_TAIL) -> str:
        try:
            text = self.logfile.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:]) or "(empty server log)"

    def run(self, prog: str, *args: str, input: Optional[str] = None, timeout: float = 120,
            ok: Sequence[int] = (0,)) -> subprocess.CompletedProcess[str]:
        """Run one program of the bin dir (as the service user when root); an error quotes the server log."""
        cmd = self._cmd(prog, *args)
        try:
            proc = subprocess.run(cmd, input=input, capture_output=True, text=True, encoding="utf-8",
                                  errors="replace", timeout=timeout, cwd=self.tempdir, env=self._env())
        except subprocess.TimeoutExpired as e:
            raise RuntimeError(f"{prog} timed out after {timeout:.0f}s: {' '.join(cmd)}\n"
                               f"--- server log ({self.logfile}) ---\n{self.log_tail()}") from e
        if proc.returncode not in ok:
            raise RuntimeError(f"{prog} exited with {proc.returncode}: {' '.join(cmd)}\n"
                               f"--- stdout ---\n{proc.stdout.strip()}\n--- stderr ---\n{proc.stderr.strip()}\n"
                               f"--- server log ({self.logfile}) ---\n{self.log_tail()}")
        return proc

    # -- the cluster ----------------------------------------------------------------------------------

    def _initdb(self) -> None:
        locale = ["--locale=C.UTF-8"] if _has_c_utf8() else ["--no-locale"]
        self.run("initdb", "-D", str(self.datadir), "-U", USER, "--auth=trust", "-E", "UTF8", *locale)
        self.sockdir.mkdir(mode=0o700)
        if self._as is not None:
            os.chown(self.sockdir, self._as.pw_uid, self._as.pw_gid)
        conf = self.datadir / "postgresql.conf"
        with conf.open("a", encoding="utf-8") as f:  # appending keeps the file's owner
            f.write("\n# dzqa tests (tests/pg_support.py)\n")
            for key, value in SETTINGS.items():
                f.write(f"{key} = {value}\n")
            f.write(f"unix_socket_directories = '{self.sockdir}'\n")

    @property
    def running(self) -> bool:
        if not (self.datadir / "PG_VERSION").exists():
            return False
        return self.run("pg_ctl", "status", "-D", str(self.datadir), ok=(0, 3, 4)).returncode == 0

    def start(self) -> None:
        """Start the server (making the cluster on first use) and wait until it accepts connections."""
        if not (self.datadir / "PG_VERSION").exists():
            self._initdb()
        if self.running:
            return
        keep = self.port is not None  # after a stop, come back on the same port: the URLs stay valid
        for attempt in range(5):
            if not keep:
                self.port = free_port()
            try:
                self.run("pg_ctl", "start", "-w", "-t", "60", "-D", str(self.datadir), "-l", str(self.logfile),
                         "-o", f"-p {self.port}")
                return
            except RuntimeError:
                if keep or attempt == 4 or "could not bind" not in self.log_tail(10):
                    raise  # only a lost race for a fresh port is worth another try

    def stop(self) -> None:
        """Fast shutdown (open sessions are rolled back, committed work is on disk); nothing if stopped."""
        if self.running:
            self.run("pg_ctl", "stop", "-w", "-t", "60", "-m", "fast", "-D", str(self.datadir))

    def restart(self) -> None:
        self.stop()
        self.start()

    def kill(self) -> None:
        """Immediate stop, as a crash: no checkpoint, the next start replays the WAL."""
        if self.running:
            self.run("pg_ctl", "stop", "-w", "-t", "60", "-m", "immediate", "-D", str(self.datadir))

    def cleanup(self) -> None:
        """Stop the server (hard, if a fast stop fails) and remove its temp dir."""
        try:
            self.stop()
        except RuntimeError:
            try:
                self.kill()
            except RuntimeError:
                pass
        shutil.rmtree(self.tempdir, ignore_errors=True)

    # -- databases ------------------------------------------------------------------------------------

    def url(self, dbname: str = "postgres") -> str:
        if self.port is None:
            raise RuntimeError("the PostgreSQL server has not been started")
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{dbname}"

    def _client(self) -> list[str]:
        return ["-h", "127.0.0.1", "-p", str(self.port), "-U", USER]

    def create_database(self) -> str:
        """A fresh, empty, uniquely named database (UTF8, from template0); returns its URL."""
        name = f"dzqa_test_{next(self._names)}_{uuid.uuid4().hex[:8]}"
        self.run("createdb", *self._client(), "-T", "template0", "-E", "UTF8", name)
        return self.url(name)

    def psql(self, sql: str, dbname: str = "postgres") -> str:
        """Run SQL through psql (stops at the first error); returns the unaligned, tuples-only output."""
        proc = self.run("psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", *self._client(), "-d", dbname,
                        input=sql)
        return proc.stdout.strip()


if pytest is not None:

    @pytest.fixture(scope="session")
    def pg_server() -> Iterator[PgServer]:
        """One real PostgreSQL server for the session; fails (never skips) when PostgreSQL is absent."""
        try:
            server = PgServer()
        except PgNotFound as e:
            missing = str(e)
        else:
            missing = ""
        if missing:  # outside the except block: one clear failure, no chained traceback
            pytest.fail(missing, pytrace=False)
        try:
            server.start()
            yield server
        finally:
            server.cleanup()

    @pytest.fixture
    def pg_url(pg_server: PgServer) -> str:
        """The URL of a fresh, empty database on the session's server."""
        return pg_server.create_database()
