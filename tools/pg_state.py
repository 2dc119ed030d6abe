#!/usr/bin/env python3
"""A local PostgreSQL for Pulumi's PostgreSQL state backend (`pulumi login postgres://...`).

    python3 tools/pg_state.py start            # initdb once, then start on 127.0.0.1:55432 (idempotent)
    python3 tools/pg_state.py url [DATABASE]   # prints the postgres:// URL (creates DATABASE if missing)
    python3 tools/pg_state.py drop DATABASE    # e.g. a test's database
    python3 tools/pg_state.py status | stop

Uses the distribution's server (Debian's postgresql package: /usr/lib/postgresql/<version>/bin).
The cluster lives in OCTAVIA_PG_DIR (default /var/tmp/octavia-infra-postgres), listens on
127.0.0.1 only (OCTAVIA_PG_PORT, default 55432) and has one login role, `pulumi`, whose
generated password is kept in the cluster directory (mode 0600). As root the server runs as the
`postgres` system user, since PostgreSQL refuses to run as root. The pulumi CLI creates its table
(`pulumi_state`) itself on first login. For a team, point `pulumi login` at a managed PostgreSQL
with TLS (`?sslmode=verify-full`) instead; this one is for development and tests.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import secrets
import subprocess
import sys
from pathlib import Path

DATA_ROOT = Path(os.environ.get("OCTAVIA_PG_DIR", "/var/tmp/octavia-infra-postgres"))
PORT = int(os.environ.get("OCTAVIA_PG_PORT", "55432"))
HOST = "127.0.0.1"
ROLE = "pulumi"
DEFAULT_DATABASE = "pulumi_state"
CLUSTER = DATA_ROOT / "cluster"
PASSWORD_FILE = DATA_ROOT / "pulumi.password"
LOG_FILE = DATA_ROOT / "server.log"


def server_bin(name: str) -> str:
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    if not candidates:
        sys.exit(f"pg_state: no PostgreSQL server found (/usr/lib/postgresql/*/bin/{name}); "
                 "install it: apt-get install postgresql")
    return candidates[-1]


def as_server_user(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    if os.geteuid() == 0:
        argv = ["runuser", "-u", "postgres", "--", *argv]
    return subprocess.run(argv, check=True, text=True, capture_output=True, **kwargs)


def _prepare_directory() -> None:
    DATA_ROOT.mkdir(parents=True, exist_ok=True)
    os.chmod(DATA_ROOT, 0o700)
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        for path in (DATA_ROOT, *DATA_ROOT.iterdir()):
            os.chown(path, user.pw_uid, user.pw_gid)


def running() -> bool:
    if not (CLUSTER / "postmaster.pid").exists():
        return False
    result = subprocess.run(["pg_isready" if _which("pg_isready") else server_bin("pg_isready"),
                             "-h", HOST, "-p", str(PORT), "-q"], check=False)
    return result.returncode == 0


def _which(name: str) -> bool:
    return any(os.access(os.path.join(d, name), os.X_OK) for d in os.environ.get("PATH", "").split(os.pathsep))


def password() -> str:
    return PASSWORD_FILE.read_text().strip()


def start() -> None:
    if not CLUSTER.exists():
        _prepare_directory()
        PASSWORD_FILE.write_text(secrets.token_urlsafe(24) + "\n")
        os.chmod(PASSWORD_FILE, 0o600)
        _prepare_directory()
        as_server_user([server_bin("initdb"), "-D", str(CLUSTER), "-U", "postgres", "--auth-local=trust",
                        "--auth-host=scram-sha-256", "-E", "UTF8"])
    if not running():
        as_server_user([server_bin("pg_ctl"), "-D", str(CLUSTER), "-l", str(LOG_FILE), "-w", "-t", "60",
                        "-o", f"-c listen_addresses={HOST} -p {PORT} -c unix_socket_directories={DATA_ROOT}",
                        "start"])
    _ensure_role()


def _psql(sql: str, database: str = "postgres") -> str:
    return as_server_user([server_bin("psql"), "-h", str(DATA_ROOT), "-p", str(PORT), "-U", "postgres",
                           "-d", database, "-v", "ON_ERROR_STOP=1", "-tAc", sql]).stdout.strip()


def _ensure_role() -> None:
    if _psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{ROLE}'") != "1":
        _psql(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{password()}'")
    ensure_database(DEFAULT_DATABASE)


def ensure_database(name: str) -> None:
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        sys.exit(f"pg_state: database name {name!r}: lower-case letters, digits and _ only")
    if _psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'") != "1":
        _psql(f"CREATE DATABASE {name} OWNER {ROLE}")


def drop_database(name: str) -> None:
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name) or name == DEFAULT_DATABASE:
        sys.exit(f"pg_state: will not drop {name!r}")
    _psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def url(database: str = DEFAULT_DATABASE) -> str:
    return f"postgres://{ROLE}:{password()}@{HOST}:{PORT}/{database}?sslmode=disable"


def stop() -> None:
    if running():
        as_server_user([server_bin("pg_ctl"), "-D", str(CLUSTER), "-m", "fast", "-w", "stop"])


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "status"
    if command == "start":
        start()
        print(f"PostgreSQL for Pulumi state on {HOST}:{PORT} (cluster {CLUSTER})")
    elif command == "url":
        start()
        database = argv[1] if len(argv) > 1 else DEFAULT_DATABASE
        ensure_database(database)
        print(url(database))
    elif command == "drop" and len(argv) == 2:
        drop_database(argv[1])
    elif command == "stop":
        stop()
    elif command == "status":
        print("running" if running() else "stopped", f"{HOST}:{PORT}", CLUSTER)
        return 0 if running() else 3
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
