"""Offline check of docker-compose.yml, .env.example and deploy/pgbouncer.ini (there is no
docker engine, and no compose client that works offline, where this runs; the compose-spec
schema is checked by check-jsonschema in deploy/check).

- every service has a health check, except one-shots (restart "no", awaited by the others
  through service_completed_successfully);
- every published port names its host address, loopback unless configured;
- no literal secret: every password, URL password, --basic-auth and requirepass comes from a
  required variable (${VAR:?message});
- .env.example defines each of those variables, and leaves every secret empty, which compose
  refuses: a copied example never runs with a known password;
- the application containers: init, migrate first, healthy PgBouncer and Redis, the Redis
  password in their broker URL; workers get 60 s to shut down warm and are health-checked by
  a ping of their own node name; beat's health check reads the schedule file it writes;
- Redis keeps accepted messages (AOF, fsync every second, a volume on /data) and has a
  password; PgBouncer's admin user is not the application's;
- least privilege in Postgres (security review M6): migrate connects as the owner role,
  straight to Postgres; every other application service as the login role of the application,
  through PgBouncer, never as the superuser or the owner; the superuser's password reaches only
  the postgres service, the owner's only postgres and migrate; PgBouncer's auth file holds the
  application's login role and the admin console's user, neither the superuser nor the owner;
  the init script mounted into /docker-entrypoint-initdb.d makes the three roles (none with a
  power it must not have) and the database owned by the owner, with each password from the
  variable its URL uses; Postgres is health-checked over TCP as a role and database that exist.

Usage: python deploy/checks/compose.py [COMPOSE_YML [ENV_EXAMPLE [PGBOUNCER_INI]]]"""

from __future__ import annotations

import configparser
import ipaddress
import re
import sys
from pathlib import Path
from typing import Any

from checklib import (
    APP_GROUP_ROLE,
    APP_LOGIN_ROLE,
    DATABASE,
    DEFAULT_SUPERUSER,
    OWNER_ROLE,
    ROOT,
    Problems,
    load_yaml_documents,
    userlist_entries,
)

ONE_SHOT = {"migrate"}
APP_IMAGE = "accounting-impact"
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY$|DSN", re.IGNORECASE)
REQUIRED = re.compile(r"\$\{(\w+):\?[^}]+\}")
#: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?message}, ${VAR?message}, and $$.
VARIABLE = re.compile(r"\$\$|\$\{(\w+)(?:(:?[-?])([^}]*))?\}|\$(\w+)")
#: user, password, host, port, database of a SQLAlchemy/libpq URL.
DATABASE_URL = re.compile(
    r"postgresql(?:\+\w+)?://([^:/@\s]+)(?::([^@\s]*))?@([^/:@\s]+)(?::(\d+))?/([^?\s]+)"
)
INIT_DIR = "/docker-entrypoint-initdb.d/"
#: Role attributes none of ours may have (their NO... forms are what roles.sql says).
POWERS = ("SUPERUSER", "CREATEROLE", "CREATEDB", "REPLICATION", "BYPASSRLS")


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's interpolation, with `env` as the environment (a required one unset: '?')."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) or match.group(4)
        operator, argument = match.group(2), match.group(3) or ""
        value = env.get(name)
        unset = not value if operator in (":-", ":?") else value is None
        if unset and operator in (":-", "-"):
            return argument
        if unset and operator in (":?", "?"):
            return "?"
        return value or ""

    return VARIABLE.sub(substitute, text)


def strings(node: Any, path: str = "") -> list[tuple[str, str]]:
    """(path, text) of every string (keys' values, list items) under node."""
    if isinstance(node, dict):
        return [item for key, value in node.items() for item in strings(value, f"{path}.{key}")]
    if isinstance(node, list):
        return [
            item for index, value in enumerate(node) for item in strings(value, f"{path}[{index}]")
        ]
    return [(path.lstrip("."), node)] if isinstance(node, str) else []


def is_required(value: str) -> bool:
    return bool(re.fullmatch(REQUIRED.pattern, value))


def command_text(service: dict[str, Any]) -> str:
    command = service.get("command", [])
    return " ".join(command) if isinstance(command, list) else str(command)


def healthcheck_text(service: dict[str, Any]) -> str:
    test = service.get("healthcheck", {}).get("test", [])
    return " ".join(test) if isinstance(test, list) else str(test)


def env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def masked(text: str) -> tuple[str, list[str]]:
    """The text with each ${...} replaced by a token without spaces or separators, so that the
    patterns below see one word where compose sees one value; and the originals, in order."""
    found: list[str] = []

    def token(match: re.Match[str]) -> str:
        found.append(match.group(0))
        return f"\x00{len(found) - 1}\x00"

    return re.sub(r"\$\{[^}]*\}", token, text), found


def unmasked(text: str, found: list[str]) -> str:
    return re.sub("\x00(\\d+)\x00", lambda m: found[int(m.group(1))], text)


def check_secrets(problems: Problems, compose: dict[str, Any]) -> None:
    for path, text in strings(compose.get("services", {})):
        key = path.rsplit(".", 1)[-1]
        if ".environment." in f".{path}" and SECRET_NAME.search(key):
            problems.check(
                is_required(text), f"{path}: a secret must be ${{VAR:?message}}, not {text!r}"
            )
        plain, found = masked(text)
        for pattern, what in (
            (r"://[^:/@\s]*:([^@\s]+)@", "the URL's password"),
            (r"--basic-auth[ =][^:\s]*:(\S+)", "--basic-auth's password"),
            (r"--requirepass[ =](\S+)", "--requirepass"),
            (r"(?<!-)\brequirepass\s+(?!%s)(\S+)", "requirepass"),
        ):
            for value in re.findall(pattern, plain):
                value = unmasked(value, found)
                if value.startswith(("$$", '"$$')):  # the container's own variable, at run time
                    continue
                problems.check(
                    is_required(value), f"{path}: {what} must be ${{VAR:?message}}, not {value!r}"
                )


def check_ports(problems: Problems, name: str, service: dict[str, Any]) -> None:
    for port in service.get("ports", []):
        if isinstance(port, dict):
            host = port.get("host_ip", "")
            published = str(port.get("published", ""))
        else:
            text = interpolate(str(port), {})
            address, _, _container = text.rpartition(":")  # HOST:HOST_PORT:CONTAINER_PORT
            host, _, published = address.rpartition(":")
            host = host.strip("[]")
        if not problems.check(host, f"{name}: port {port} has no host address (binds 0.0.0.0)"):
            continue
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        problems.check(
            loopback,
            f"{name}: port {port} is published on {host} by default, not on loopback",
        )
        problems.check(published, f"{name}: port {port} has no host port")


def check_app_services(problems: Problems, services: dict[str, Any]) -> None:
    for name, service in services.items():
        if APP_IMAGE not in str(service.get("image", "")):
            continue
        problems.check(service.get("init") is True, f"{name}: init: true (signals, zombies)")
        redis_url = service.get("environment", {}).get("ACCOUNTING_REDIS_URL", "")
        problems.check(
            re.match(r"redis://:\$\{REDIS_PASSWORD:\?[^}]+\}@", redis_url),
            f"{name}: ACCOUNTING_REDIS_URL must carry ${{REDIS_PASSWORD:?...}}",
        )
        if name in ONE_SHOT:
            continue
        depends = service.get("depends_on", {})
        for dependency, condition in (
            ("migrate", "service_completed_successfully"),
            ("pgbouncer", "service_healthy"),
            ("redis", "service_healthy"),
        ):
            problems.check(
                isinstance(depends, dict)
                and depends.get(dependency, {}).get("condition") == condition,
                f"{name}: must wait for {dependency} ({condition})",
            )
    for name, service in services.items():
        command = command_text(service)
        node = re.search(r"\bworker\b.*\s-n\s+(\w+)@%h", command)
        if node:
            problems.check(
                service.get("stop_grace_period") == "60s", f"{name}: stop_grace_period: 60s"
            )
            probe = healthcheck_text(service)
            problems.check(
                "inspect ping" in probe and f'-d "{node.group(1)}@' in probe,
                f"{name}: health check must ping its own node, {node.group(1)}@<hostname>",
            )
        schedule = re.search(r"\bbeat\b.*--schedule\s+(\S+)", command)
        if re.search(r"\bbeat\b", command):
            probe = healthcheck_text(service)
            problems.check(
                schedule and Path(schedule.group(1)).name in probe,
                f"{name}: beat needs --schedule FILE and a health check that reads FILE",
            )


def check_redis(problems: Problems, services: dict[str, Any]) -> None:
    redis = services.get("redis")
    if redis is None:
        problems.add("no redis service")
        return
    entry = redis.get("entrypoint", [])
    text = " ".join(entry if isinstance(entry, list) else [entry]) + " " + command_text(redis)
    for flag in ("--appendonly yes", "--appendfsync everysec"):
        problems.check(flag in text, f"redis: {flag} (the broker keeps accepted messages)")
    problems.check(
        "requirepass" in text and "REDIS_PASSWORD" in text, "redis: requirepass $REDIS_PASSWORD"
    )
    problems.check(
        any(str(volume).split(":")[1:2] == ["/data"] for volume in redis.get("volumes", [])),
        "redis: /data must be a volume (the append-only file)",
    )


def read_ini(ini_path: Path) -> configparser.ConfigParser:
    ini = configparser.ConfigParser(comment_prefixes=(";", "#"), inline_comment_prefixes=None)
    ini.read_string(ini_path.read_text())
    return ini


def check_pgbouncer(problems: Problems, services: dict[str, Any], ini_path: Path) -> None:
    ini = read_ini(ini_path)
    admins = {
        user.strip() for user in ini.get("pgbouncer", "admin_users", fallback="").split(",")
    } - {""}
    app_users = set()
    for service in services.values():
        for _, text in strings(service.get("environment", {})):
            app_users |= set(re.findall(r"postgresql\+?\w*://([^:/@\s]+):", text))
    problems.check(app_users, "no application database user found in the compose file")
    problems.check(
        not admins & app_users,
        f"{ini_path.name}: admin_users {sorted(admins)} includes the application's user",
    )
    pgbouncer = services.get("pgbouncer", {})
    for admin in admins:
        problems.check(
            admin in " ".join(map(str, pgbouncer.get("entrypoint", []))),
            f"pgbouncer: the entrypoint writes no password for the admin user {admin}",
        )


def required_variable(text: str) -> str | None:
    """VAR, if the text is exactly ${VAR:?message}."""
    match = re.fullmatch(REQUIRED.pattern, text)
    return match.group(1) if match else None


def variables_used(node: Any) -> set[str]:
    """Every compose variable (${VAR...}) the strings under node refer to."""
    found: set[str] = set()
    for _, text in strings(node):
        found |= {match.group(1) for match in re.finditer(r"(?<!\$)\$\{(\w+)", text)}
    return found


def database_url(service: dict[str, Any]) -> tuple[str, str | None, str, str] | None:
    """(user, the password's variable, host:port, database) of ACCOUNTING_DATABASE_URL."""
    text, found = masked(str(service.get("environment", {}).get("ACCOUNTING_DATABASE_URL", "")))
    match = DATABASE_URL.match(text)
    if not match:
        return None
    user, password, host, port, database = (unmasked(part or "", found) for part in match.groups())
    return user, required_variable(password), f"{host}:{port or 5432}", database


def sql_roles(sql: str) -> tuple[dict[str, str], dict[str, str], set[str]]:
    """What a psql script does about roles, read statically: {role: its CREATE ROLE options},
    {role: the psql variable its password is set from}, and {database owned by the owner}."""
    text = re.sub(r"--[^\n]*", "", sql)
    created = {
        role: " ".join(options.split()).upper()
        for role, options in re.findall(r"\bCREATE\s+ROLE\s+(\w+)\b([^;]*);", text, re.I)
    }
    passwords = dict(
        re.findall(r"\b(?:CREATE|ALTER)\s+ROLE\s+(\w+)\b[^;]*\bPASSWORD\s+:'(\w+)'", text, re.I)
    )
    literal = re.findall(r"\bROLE\s+(\w+)\b[^;]*\bPASSWORD\s+'", text, re.I)
    for role in literal:
        passwords[role] = "<a literal in the file>"
    owned = {
        database
        for database, owner in re.findall(
            r"\bCREATE\s+DATABASE\s+(\w+)\s+(?:WITH\s+)?OWNER\s*=?\s*(\w+)", text, re.I
        )
        if owner == OWNER_ROLE
    }
    return created, passwords, owned


def check_database_roles(
    problems: Problems, services: dict[str, Any], ini: configparser.ConfigParser, base: Path
) -> None:
    postgres = services.get("postgres")
    if postgres is None:
        problems.add("no postgres service")
        return
    environment = postgres.get("environment", {})
    superuser = str(environment.get("POSTGRES_USER", DEFAULT_SUPERUSER))
    superuser_variable = required_variable(str(environment.get("POSTGRES_PASSWORD", "")))
    forbidden = {superuser: "the superuser", OWNER_ROLE: "the owner"}

    # Who connects as whom, and where.
    urls: dict[str, tuple[str, str | None, str, str]] = {}
    for name, service in services.items():
        if APP_IMAGE not in str(service.get("image", "")):
            continue
        url = database_url(service)
        if url is None:
            problems.add(f"{name}: no postgresql:// ACCOUNTING_DATABASE_URL")
            continue
        urls[name] = url
        user, _, address, database = url
        problems.check(database == DATABASE, f"{name}: the database is {DATABASE}, not {database}")
        if name == "migrate":
            problems.check(
                user == OWNER_ROLE and address == "postgres:5432",
                f"migrate: must connect as {OWNER_ROLE} straight to postgres:5432 (the owner"
                f" of the tables runs the DDL, not through the pooler), not as {user}@{address}",
            )
            continue
        if user in forbidden:
            problems.add(
                f"{name}: connects as {forbidden[user]} ({user}): the services connect as"
                f" {APP_LOGIN_ROLE}, which cannot alter the schema or rewrite a journal line"
            )
        else:
            problems.check(
                user == APP_LOGIN_ROLE and address == "pgbouncer:6432",
                f"{name}: must connect as {APP_LOGIN_ROLE} through pgbouncer:6432, not as"
                f" {user}@{address}",
            )
    # The variables the two login roles' passwords come from, as their URLs say.
    migrate = urls.get("migrate")
    owner_variable = migrate[1] if migrate and migrate[0] == OWNER_ROLE else None
    app_variables = {
        url[1] for name, url in urls.items() if name != "migrate" and url[0] == APP_LOGIN_ROLE
    }
    app_variable = next(iter(app_variables)) if len(app_variables) == 1 else None
    problems.check(
        len(app_variables) <= 1,
        f"{APP_LOGIN_ROLE}'s password comes from {sorted(map(str, app_variables))}: one role,"
        " one password",
    )

    # The superuser's and the owner's passwords go where they are needed and nowhere else.
    for variable, holders, what in (
        (superuser_variable, {"postgres"}, "the superuser's"),
        (owner_variable, {"postgres", "migrate"}, "the owner's"),
    ):
        if variable is None:
            continue
        for name, service in services.items():
            problems.check(
                name in holders or variable not in variables_used(service),
                f"{name}: holds {variable}, {what} password (only {', '.join(sorted(holders))}"
                " may)",
            )

    # PgBouncer's auth file: the users it lets in.
    auth_file = ini.get("pgbouncer", "auth_file", fallback="")
    pgbouncer = services.get("pgbouncer", {})
    entry = pgbouncer.get("entrypoint", [])
    script = " ".join(entry if isinstance(entry, list) else [str(entry)])
    entries = userlist_entries(script, auth_file)
    if problems.check(
        entries, f"pgbouncer: the entrypoint writes no auth file {auth_file} with printf"
    ):
        assert entries is not None
        users = {user: password for user, password in entries}
        for user, what in forbidden.items():
            problems.check(
                user not in users,
                f"pgbouncer: the auth file holds {what} ({user}): only {APP_LOGIN_ROLE} and the"
                " admin console's user come through the pooler",
            )
        pgbouncer_environment = pgbouncer.get("environment", {})
        for user, password in users.items():
            reference = re.fullmatch(r"\$\$\{?(\w+)\}?", password)
            source = pgbouncer_environment.get(reference.group(1)) if reference else None
            variable = required_variable(str(source)) if source is not None else None
            problems.check(
                variable, f"pgbouncer: {user}'s password must be $$VAR of a ${{VAR:?...}} setting"
            )
            if user == APP_LOGIN_ROLE and variable and app_variable:
                problems.check(
                    variable == app_variable,
                    f"pgbouncer: {user}'s password comes from {variable}, its URL's from"
                    f" {app_variable}",
                )
        problems.check(
            APP_LOGIN_ROLE in users,
            f"pgbouncer: the auth file lacks {APP_LOGIN_ROLE}, whom every service logs in as",
        )

    # The init script: the roles and the database, on the first start of an empty volume.
    scripts = [
        str(volume).split(":")[0]
        for volume in postgres.get("volumes", [])
        if str(volume).split(":")[1:2] and str(volume).split(":")[1].startswith(INIT_DIR)
    ]
    if not problems.check(
        scripts, f"postgres: no init script in {INIT_DIR} makes the database roles"
    ):
        return
    sql = ""
    for script_path in scripts:
        path = base / script_path
        if problems.check(path.is_file(), f"postgres: the init script {script_path} is missing"):
            sql += path.read_text() + "\n"
    created, passwords, owned = sql_roles(sql)
    getenv = dict(re.findall(r"^\s*\\getenv\s+(\w+)\s+(\w+)", sql, re.M))
    for role, login in ((OWNER_ROLE, True), (APP_GROUP_ROLE, False), (APP_LOGIN_ROLE, True)):
        if not problems.check(role in created, f"postgres: the init script makes no role {role}"):
            continue
        options = created[role]
        problems.check(
            bool(re.search(r"(?<!NO)LOGIN\b", options)) == login
            and ("NOLOGIN" in options) == (not login),
            f"postgres: {role} must be {'LOGIN' if login else 'NOLOGIN'} (CREATE ROLE {options})",
        )
        for power in POWERS:
            problems.check(
                not re.search(rf"(?<!NO){power}\b", options),
                f"postgres: {role} is made {power}",
            )
    if APP_LOGIN_ROLE in created:
        problems.check(
            re.search(rf"\bIN\s+ROLE\s+{APP_GROUP_ROLE}\b", created[APP_LOGIN_ROLE], re.I),
            f"postgres: {APP_LOGIN_ROLE} must be made IN ROLE {APP_GROUP_ROLE}",
        )
    problems.check(
        DATABASE in owned,
        f"postgres: the init script makes no database {DATABASE} OWNER {OWNER_ROLE}",
    )
    for role, url_variable, who in (
        (OWNER_ROLE, owner_variable, "migrate's URL"),
        (APP_LOGIN_ROLE, app_variable, "the services' URLs"),
    ):
        psql_variable = passwords.get(role)
        if url_variable is None:  # no URL connects as that role: reported above
            continue
        if not problems.check(
            psql_variable in getenv,
            f"postgres: the init script sets {role}'s password from"
            f" {psql_variable or 'nothing'}, not from the environment (\\getenv)",
        ):
            continue
        assert psql_variable is not None
        source = environment.get(getenv[psql_variable])
        variable = required_variable(str(source)) if source is not None else None
        problems.check(
            variable == url_variable,
            f"postgres: {role}'s password comes from {getenv[psql_variable]}="
            f"{source!r}, {who} from ${{{url_variable}}}",
        )

    # Ready means: accepting TCP connections (not the socket the init phase listens on alone),
    # asked as a role and into a database that exist (else every probe is logged as a failure).
    probe = healthcheck_text(postgres)
    asks_as = re.search(r"\s-U\s*(\S+)", probe)
    asks_into = re.search(r"\s-d\s*(\S+)", probe)
    problems.check(
        "pg_isready" in probe and re.search(r"\s-h\s*\S+", probe),
        "postgres: the health check must be pg_isready -h 127.0.0.1 (TCP: during the init"
        " script the server listens on its socket only)",
    )
    logins = {superuser} | {
        role for role, options in created.items() if re.search(r"(?<!NO)LOGIN\b", options)
    }
    problems.check(
        asks_as and asks_as.group(1) in logins,
        f"postgres: pg_isready asks as {asks_as.group(1) if asks_as else 'nobody'}, not as a role"
        f" that exists and may log in ({', '.join(sorted(logins))})",
    )
    problems.check(
        asks_into and asks_into.group(1) == DATABASE,
        f"postgres: pg_isready must name the database -d {DATABASE}",
    )


def main() -> None:
    compose_path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docker-compose.yml"
    env_path = Path(sys.argv[2]) if len(sys.argv) > 2 else compose_path.with_name(".env.example")
    ini_path = (
        Path(sys.argv[3]) if len(sys.argv) > 3 else compose_path.parent / "deploy/pgbouncer.ini"
    )
    problems = Problems("compose")
    (compose,) = load_yaml_documents(compose_path)
    services: dict[str, Any] = compose.get("services", {})

    for name, service in services.items():
        restart = str(service.get("restart", "no"))
        problems.check(
            restart in ("no", "always", "unless-stopped")
            or re.fullmatch(r"on-failure(:\d+)?", restart),
            f"{name}: restart {restart!r} is not a restart policy",
        )
        healthcheck = service.get("healthcheck")
        if name in ONE_SHOT:
            problems.check(service.get("restart") == "no", f"{name}: a one-shot must not restart")
            continue
        problems.check(
            healthcheck and not healthcheck.get("disable") and healthcheck.get("test"),
            f"{name}: no health check",
        )
        check_ports(problems, name, service)
    for name, service in services.items():
        for dependency, spec in (service.get("depends_on") or {}).items():
            if dependency in ONE_SHOT:
                problems.check(
                    spec.get("condition") == "service_completed_successfully",
                    f"{name}: waits for the one-shot {dependency} without its success",
                )
    check_secrets(problems, compose)
    check_app_services(problems, services)
    check_redis(problems, services)
    check_pgbouncer(problems, services, ini_path)
    check_database_roles(problems, services, read_ini(ini_path), compose_path.parent)

    example = env_file(env_path)
    text = compose_path.read_text()
    for variable in sorted(set(REQUIRED.findall(text))):
        present = problems.check(variable in example, f"{env_path.name}: {variable} missing")
        if present and SECRET_NAME.search(variable):
            problems.check(
                example[variable] == "",
                f"{env_path.name}: {variable} must be empty (compose then refuses to start"
                " until it is set); a placeholder would run as a known password",
            )
    for variable, value in example.items():
        if SECRET_NAME.search(variable):
            problems.check(value == "", f"{env_path.name}: {variable} holds a value")
    problems.finish(
        f"{len(services)} services: health checks, loopback ports, no literal secrets,"
        f" {env_path.name} secrets empty, Redis AOF with a password, PgBouncer admin apart,"
        f" migrate as {OWNER_ROLE}, the others as {APP_LOGIN_ROLE} (neither a superuser)"
    )


if __name__ == "__main__":
    main()
