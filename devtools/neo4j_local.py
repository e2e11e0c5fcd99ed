"""A real Neo4j Community 5.26 server, provisioned from Maven Central jars and run on loopback.

No Docker engine and no Neo4j package exist on our machines, so the project starts its own:
the jars are resolved once into a cache outside git, each named instance gets its own home
(config, data, logs, password) and a fixed Bolt port. ``start`` is a no-op when the instance
already answers; readiness is polled against a deadline, never slept for.

    python -m devtools.neo4j_local start --name dev --port 7687
    python -m devtools.neo4j_local env --name dev      # prints NEO4J_URI/USER/PASSWORD
    python -m devtools.neo4j_local stop --name dev
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import neo4j

NEO4J_VERSION = "5.26.12"
POM = Path(__file__).resolve().parent / "neo4j" / "pom.xml"
JVM_FLAGS = [
    # Required on Java 17: without java.nio opened, start-up dies in UnsafeUtil.<clinit>.
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--enable-native-access=ALL-UNNAMED",
    # The defaults the official bin/neo4j bootloader would add.
    "-XX:+UseG1GC",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+UnlockExperimentalVMOptions",
    "-XX:+TrustFinalNonStaticFields",
    "-XX:+DisableExplicitGC",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Dlog4j2.disable.jmx=true",
    "-Dfile.encoding=UTF-8",
]


class Neo4jLocalError(RuntimeError):
    """The local server could not be provisioned or started; the message says why."""


@dataclass(frozen=True)
class Connection:
    uri: str
    user: str
    password: str

    def __repr__(self) -> str:
        return f"Connection(uri={self.uri!r}, user={self.user!r}, password='***')"


def new_password() -> str:
    """Random, and never mistaken for an option by neo4j-admin: hex digits after a fixed letter
    (token_urlsafe could start with "-", which the admin tool then read as an unknown option)."""
    return "p" + secrets.token_hex(16)


def set_initial_password_command(lib: Path, password: str) -> list[str]:
    """``neo4j-admin dbms set-initial-password``. It has no ``--password=`` form, so "--" ends the
    options: whatever the password holds (a file written by hand may start with "-"), it is the value."""
    return ["java", "-cp", f"{lib}/*", "org.neo4j.cli.AdminTool", "dbms", "set-initial-password", "--", password]


def cache_root() -> Path:
    default = Path.home() / ".cache" / "integration-hub"
    return Path(os.environ.get("INTEGRATION_HUB_CACHE", default)).expanduser()


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def provision(version: str = NEO4J_VERSION) -> Path:
    """Resolve the Neo4j jars into the cache once; returns the ``lib`` folder."""
    dist = cache_root() / f"neo4j-{version}"
    lib = dist / "lib"
    marker = dist / ".complete"
    with _file_lock(cache_root() / f"neo4j-{version}.lock"):
        if marker.exists():
            return lib
        if shutil.which("mvn") is None:
            raise Neo4jLocalError("Maven (mvn) is needed to fetch Neo4j from Maven Central")
        staging = dist / "lib.partial"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        command = [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(POM),
            f"-Dneo4j.version={version}",
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={staging}",
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            tail = (result.stdout + result.stderr)[-3000:]
            raise Neo4jLocalError(f"fetching Neo4j {version} from Maven Central failed:\n{tail}")
        shutil.rmtree(lib, ignore_errors=True)
        staging.rename(lib)
        marker.write_text(version)
    return lib


class LocalNeo4j:
    """One named Neo4j instance under the cache: its own config, data, logs and password."""

    def __init__(self, name: str = "dev", port: int = 7687, heap: str = "1g", version: str = NEO4J_VERSION) -> None:
        self.name = name
        self.port = port
        self.heap = heap
        self.version = version
        self.home = cache_root() / "instances" / name
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"bolt://127.0.0.1:{self.port}"

    @property
    def _pid_file(self) -> Path:
        return self.home / "run" / "server.pid"

    @property
    def _console_log(self) -> Path:
        return self.home / "logs" / "console.log"

    def connection(self) -> Connection:
        return Connection(self.uri, "neo4j", self._password())

    def _password(self) -> str:
        path = self.home / "password"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(new_password())
            path.chmod(0o600)
        return path.read_text().strip()

    def _write_config(self) -> Path:
        conf = self.home / "conf"
        conf.mkdir(parents=True, exist_ok=True)
        for sub in ("data", "logs", "run"):
            (self.home / sub).mkdir(parents=True, exist_ok=True)
        (conf / "neo4j.conf").write_text(
            "\n".join(
                [
                    f"server.directories.data={self.home / 'data'}",
                    f"server.directories.logs={self.home / 'logs'}",
                    f"server.directories.run={self.home / 'run'}",
                    "server.default_listen_address=127.0.0.1",
                    "server.bolt.enabled=true",
                    f"server.bolt.listen_address=127.0.0.1:{self.port}",
                    "server.http.enabled=false",
                    "server.https.enabled=false",
                    "dbms.security.auth_enabled=true",
                    "dbms.usage_report.enabled=false",
                    "server.memory.pagecache.size=256m",
                    "db.transaction.timeout=120s",
                    "",
                ]
            )
        )
        return conf

    def pid(self) -> int | None:
        if self._process is not None and self._process.poll() is not None:
            return None  # our own child has exited (and is now reaped, not a zombie)
        try:
            pid = int(self._pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        return pid

    def answers(self) -> bool:
        conn = self.connection()
        try:
            with neo4j.GraphDatabase.driver(conn.uri, auth=(conn.user, conn.password)) as driver:
                driver.verify_connectivity()
        except Exception:  # any failure means "not ready yet"
            return False
        return True

    def start(self, timeout: float = 120.0) -> Connection:
        """Start the instance unless it already answers; wait for Bolt or raise with the log tail."""
        with _file_lock(self.home.parent / f"{self.name}.lock"):
            if self.pid() is not None and self.answers():
                return self.connection()
            lib = provision(self.version)
            conf = self._write_config()
            password = self._password()
            if not (self.home / "data" / "dbms").exists():
                self._set_initial_password(lib, conf, password)
            java = shutil.which("java")
            if java is None:
                raise Neo4jLocalError("Java 17 (java) is needed to run Neo4j 5.26")
            command = [
                java,
                *JVM_FLAGS,
                "-Xms256m",
                f"-Xmx{self.heap}",
                "-cp",
                f"{lib}/*",
                "org.neo4j.server.CommunityEntryPoint",
                f"--home-dir={self.home}",
                f"--config-dir={conf}",
            ]
            with self._console_log.open("ab") as log:
                process = subprocess.Popen(
                    command,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                    cwd=self.home,
                )
            self._process = process  # keep the handle: we reap it on stop()
            self._pid_file.write_text(str(process.pid))
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    raise Neo4jLocalError(f"Neo4j exited with {process.returncode}:\n{self.log_tail()}")
                if self.answers():
                    return self.connection()
                time.sleep(0.25)
            self.stop()
            raise Neo4jLocalError(f"Neo4j did not answer on {self.uri} within {timeout:.0f}s:\n{self.log_tail()}")

    def _set_initial_password(self, lib: Path, conf: Path, password: str) -> None:
        env = {**os.environ, "NEO4J_HOME": str(self.home), "NEO4J_CONF": str(conf)}
        result = subprocess.run(
            set_initial_password_command(lib, password),
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise Neo4jLocalError(f"setting the initial password failed:\n{result.stderr[-2000:]}")

    def stop(self, timeout: float = 60.0) -> bool:
        """SIGTERM, wait, then SIGKILL; returns whether a process was running."""
        pid = self.pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pid() is None:
                break
            time.sleep(0.2)
        else:
            os.kill(pid, signal.SIGKILL)
        if self._process is not None:
            self._process.wait(timeout=10)
            self._process = None
        self._pid_file.unlink(missing_ok=True)
        return True

    def wipe(self) -> None:
        """Remove the instance's databases (it must be stopped): the next start begins with an empty
        graph. For a benchmark's own instance, whose figures must not depend on what earlier runs left."""
        if self.pid() is not None:
            raise Neo4jLocalError(f"stop the {self.name} instance before wiping it")
        shutil.rmtree(self.home / "data", ignore_errors=True)

    def start_empty(self, timeout: float = 120.0) -> Connection:
        """Stop, wipe and start: a benchmark's instance, with nothing an earlier run left (a store that
        grew to 21 GB over a day of runs made every figure slower, the baselines too)."""
        self.stop()
        self.wipe()
        return self.start(timeout)

    def log_tail(self, lines: int = 40) -> str:
        chunks = []
        for path in (self._console_log, self.home / "logs" / "neo4j.log"):
            if path.exists():
                chunks.append(f"--- {path}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:]))
        return "\n".join(chunks) or "(no log written)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run a local Neo4j Community server from Maven jars.")
    parser.add_argument("command", choices=["start", "stop", "status", "env", "provision"])
    parser.add_argument("--name", default="dev")
    parser.add_argument("--port", type=int, default=7687)
    parser.add_argument("--heap", default="1g")
    args = parser.parse_args(argv)
    instance = LocalNeo4j(args.name, args.port, args.heap)
    try:
        if args.command == "provision":
            print(provision())
        elif args.command == "start":
            started = time.monotonic()
            conn = instance.start()
            print(f"Neo4j {instance.version} ready on {conn.uri} ({time.monotonic() - started:.1f}s)")
        elif args.command == "stop":
            print("stopped" if instance.stop() else "not running")
        elif args.command == "status":
            running = instance.pid() is not None and instance.answers()
            print(f"{instance.name}: {'running on ' + instance.uri if running else 'stopped'}")
            return 0 if running else 3
        else:
            conn = instance.connection()
            # Shell-quoted: the README evals these lines (a password file written by hand may hold anything).
            for name, value in (("NEO4J_URI", conn.uri), ("NEO4J_USER", conn.user), ("NEO4J_PASSWORD", conn.password)):
                print(f"{name}={shlex.quote(value)}")
    except Neo4jLocalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
