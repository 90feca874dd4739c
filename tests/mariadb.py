"""A real MariaDB server on loopback for the tests that read an ocStore database, from Debian's `mariadb-server`.

`make test` installs that package; without its binaries the tests that need the server fail (they do not skip),
so a machine that cannot run them is noticed rather than silently passing.

The server gets a fresh data directory, a free port on 127.0.0.1 and a socket of its own, so it never touches a
system MariaDB. It runs as the `mysql` user when we are root (mariadbd refuses root), with the parent-death signal
set after the user switch (`core.embedded._die_with_parent`), so a killed test run takes it down too; `stop()` sends
SIGTERM (a clean shutdown) and removes the data directory.

`ocstore_database()` loads `tests/data/ocstore/schema.sql` and `data.sql` into the database `ocstore` and yields a
DSN for the user `avibot`, who has a password (with characters that must be percent-encoded in the DSN) and may
only SELECT there, as we tell shops to set it up. The same user has all rights on databases named `variant_…`,
where a test can build a modified copy of the shop (another prefix, another default language).
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pymysql
import pymysql.constants.CLIENT
import pytest

from core.embedded import _die_with_parent, _log_tail, free_port

DATA = Path(__file__).resolve().parent / "data" / "ocstore"
DATABASE = "ocstore"
USER = "avibot"
_SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin", "/sbin"])


def _binary(name: str) -> str:
    path = shutil.which(name, path=_SEARCH_PATH)
    if path is None:
        pytest.fail(
            f"MariaDB's `{name}` is not installed, and the ocStore database tests need a real server. "
            "Run `make test`, which installs Debian's mariadb-server package (or: apt-get install -y mariadb-server).",
            pytrace=False,
        )
    return path


class MariaDB:
    """One mariadbd process with its own data directory; `start()` returns once it accepts connections."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="avibot-mariadb-"))
        self.datadir = self.root / "data"
        self.socket = self.root / "mysqld.sock"
        self.log_path = self.root / "mariadb.log"
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._user = "mysql" if os.geteuid() == 0 else None

    def start(self, timeout: float = 60.0) -> None:
        mariadbd = _binary("mariadbd")
        install_db = _binary("mariadb-install-db")
        if self._user:
            entry = pwd.getpwnam(self._user)  # the package creates this system user
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        result = subprocess.run(
            [
                install_db,
                "--no-defaults",  # ignore /etc/mysql: this server shares nothing with a system one
                f"--datadir={self.datadir}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            user=self._user,
            capture_output=True,
            text=True,
            timeout=180,
        )
        if result.returncode != 0:
            raise RuntimeError(f"mariadb-install-db failed:\n{(result.stdout + result.stderr)[-3000:]}")
        self.port = free_port()
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                [
                    mariadbd,
                    "--no-defaults",
                    f"--datadir={self.datadir}",
                    f"--port={self.port}",
                    "--bind-address=127.0.0.1",
                    f"--socket={self.socket}",
                    f"--pid-file={self.root / 'mariadb.pid'}",
                    f"--log-error={self.log_path}",
                    "--skip-name-resolve",
                    "--innodb-buffer-pool-size=32M",
                    "--character-set-server=utf8mb4",
                    "--collation-server=utf8mb4_general_ci",
                ],
                user=self._user,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # After Popen's switch to `mysql`: a credentials change would clear the parent-death signal.
                preexec_fn=lambda: _die_with_parent(signal.SIGTERM),
            )
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"mariadbd exited with code {self._process.returncode} at start; its log ends with:\n"
                    f"{_log_tail(self.log_path)}"
                )
            try:
                # A plain socket first: PyMySQL leaks its socket when a Unix-socket connect fails.
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                    probe.connect(str(self.socket))
                self.admin().close()
                return
            except (OSError, pymysql.MySQLError):
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"mariadbd did not accept connections within {timeout:.0f} s") from None
                time.sleep(0.1)

    def admin(self, database: str | None = None, *, multi: bool = False) -> pymysql.connections.Connection:
        """A root connection over the server's own socket (root has no password and no TCP access)."""
        return pymysql.connect(
            unix_socket=str(self.socket),
            user="root",
            database=database,
            charset="utf8mb4",
            autocommit=True,
            client_flag=pymysql.constants.CLIENT.MULTI_STATEMENTS if multi else 0,
        )

    def run_script(self, database: str, path: Path) -> None:
        """Executes a .sql file of several statements (what `mariadb < file` would do)."""
        conn = self.admin(database, multi=True)
        try:
            with conn.cursor() as cursor:
                cursor.execute(path.read_text(encoding="utf-8"))
                while cursor.nextset():  # errors in later statements surface here
                    pass
        finally:
            conn.close()

    def stop(self, timeout: float = 30.0) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)  # mariadbd's normal shutdown
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def ocstore_database() -> Iterator[str]:
    """A running MariaDB holding the test shop; yields `mysql://avibot:…@127.0.0.1:PORT/ocstore`."""
    server = MariaDB()
    try:
        server.start()
        password = f"{secrets.token_hex(8)}:p@ss/w%rd"
        conn = server.admin()
        try:
            with conn.cursor() as cursor:
                # Only root@localhost (the socket) stays: nobody else on this machine gets in without a password.
                cursor.execute("SELECT user, host FROM mysql.user WHERE user = 'root' AND host <> 'localhost'")
                for user, host in cursor.fetchall():
                    cursor.execute("DROP USER %s@%s", (user, host))
                cursor.execute(f"CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
                cursor.execute(f"CREATE USER '{USER}'@'127.0.0.1' IDENTIFIED BY %s", (password,))
                cursor.execute(f"GRANT SELECT ON {DATABASE}.* TO '{USER}'@'127.0.0.1'")
                cursor.execute(f"GRANT ALL PRIVILEGES ON `variant\\_%`.* TO '{USER}'@'127.0.0.1'")
        finally:
            conn.close()
        server.run_script(DATABASE, DATA / "schema.sql")
        server.run_script(DATABASE, DATA / "data.sql")
        yield f"mysql://{USER}:{quote(password, safe='')}@127.0.0.1:{server.port}/{DATABASE}"
    finally:
        server.stop()
