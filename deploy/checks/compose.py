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
  password; PgBouncer's admin user is not the application's.

Usage: python deploy/checks/compose.py [COMPOSE_YML [ENV_EXAMPLE [PGBOUNCER_INI]]]"""

from __future__ import annotations

import configparser
import ipaddress
import re
import sys
from pathlib import Path
from typing import Any

from checklib import ROOT, Problems, load_yaml_documents

ONE_SHOT = {"migrate"}
APP_IMAGE = "accounting-impact"
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY$|DSN", re.IGNORECASE)
REQUIRED = re.compile(r"\$\{(\w+):\?[^}]+\}")
#: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?message}, ${VAR?message}, and $$.
VARIABLE = re.compile(r"\$\$|\$\{(\w+)(?:(:?[-?])([^}]*))?\}|\$(\w+)")


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


def check_pgbouncer(problems: Problems, services: dict[str, Any], ini_path: Path) -> None:
    ini = configparser.ConfigParser(comment_prefixes=(";", "#"), inline_comment_prefixes=None)
    ini.read_string(ini_path.read_text())
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
        f" {env_path.name} secrets empty, Redis AOF with a password, PgBouncer admin apart"
    )


if __name__ == "__main__":
    main()
