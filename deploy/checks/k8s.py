"""What the Kubernetes schemas (kubernetes-validate, run by deploy/check) cannot say about
deploy/k8s: no secret in any file, every pod locked down (non-root, read-only root filesystem,
no privilege escalation, capabilities dropped, seccomp, requests and limits), the commands and
probes of each role, Services that select real pods, and PgBouncer's ini identical to
deploy/pgbouncer.ini.

Least privilege in Postgres (security review M6): the migrate Job takes its database URL from
the Secret's owner-database-url, which no other pod may read (nor the whole Secret); the
workers, beat, the api and Flower take app-database-url; PgBouncer's auth file holds
accounting_worker (its password from app-password) and the admin console's user, neither the
owner nor a superuser. The `kubectl create secret` documented in config.yaml and
deploy/README.md makes exactly the keys the manifests read, with the owner's URL as
accounting_owner not through the pooler, the application's as accounting_worker through
pgbouncer:6432, with app-password's password.

Usage: python deploy/checks/k8s.py [K8S_DIR]"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path
from typing import Any

from checklib import (
    APP_LOGIN_ROLE,
    DATABASE,
    DEFAULT_SUPERUSER,
    DEPLOY,
    OWNER_ROLE,
    Problems,
    load_yaml_documents,
    userlist_entries,
)

NAMESPACE = "accounting-impact"
APP_IMAGE = re.compile(r"(^|/)accounting-impact:")
APP_UID = 10001
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|BASIC_AUTH|_KEY$|DSN", re.IGNORECASE)
#: A URL whose password is written out (a $(VAR) reference is not).
LITERAL_URL_PASSWORD = re.compile(r"://[^:/@\s]*:(?!\$\()[^@\s]+@")
CELERY = ["celery", "-A", "tasks.app:app"]
COMMANDS = {
    "worker-high": [*CELERY, "worker", "-Q", "accounting.high", "-n", "high@%h",
                    "--concurrency", "4", "--prefetch-multiplier", "1"],
    "worker-normal": [*CELERY, "worker", "-Q", "accounting.normal", "-n", "normal@%h",
                      "--concurrency", "2"],
    "beat": [*CELERY, "beat"],
    "api": ["accounting", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"],
    "flower": [*CELERY, "flower"],
    "migrate": ["accounting", "migrate"],
}  # fmt: skip
WORKERS = {"worker-high": "high", "worker-normal": "normal"}
SECRET = "accounting-secrets"
#: The Secret's keys for the two database logins (config.yaml shows how to make them).
OWNER_URL_KEY = "owner-database-url"
APP_URL_KEY = "app-database-url"
APP_PASSWORD_KEY = "app-password"
#: user, password, host, port, database of a SQLAlchemy/libpq URL.
DATABASE_URL = re.compile(
    r"postgresql(?:\+\w+)?://([^:/@\s]+)(?::([^@\s]*))?@([^/:@\s]+)(?::(\d+))?/([^?\s]+)"
)
WORKLOADS = {"Deployment", "StatefulSet", "Job", "DaemonSet", "CronJob"}


def starts_with(command: list[str], prefix: list[str]) -> bool:
    """The command begins with exactly these words (more options may follow)."""
    return command[: len(prefix)] == prefix


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    spec = doc["spec"]
    if doc["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    pod: dict[str, Any] = spec["template"]["spec"]
    return pod


def check_pod(problems: Problems, where: str, pod: dict[str, Any]) -> None:
    problems.check(
        pod.get("automountServiceAccountToken") is False,
        f"{where}: automountServiceAccountToken must be false",
    )
    problems.check(pod.get("enableServiceLinks") is False, f"{where}: enableServiceLinks: false")
    security = pod.get("securityContext", {})
    problems.check(security.get("runAsNonRoot") is True, f"{where}: runAsNonRoot must be true")
    problems.check(
        security.get("seccompProfile", {}).get("type") in ("RuntimeDefault", "Localhost"),
        f"{where}: seccompProfile RuntimeDefault",
    )
    problems.check(not pod.get("hostNetwork") and not pod.get("hostPID"), f"{where}: host access")
    for container in pod.get("initContainers", []) + pod.get("containers", []):
        check_container(problems, f"{where} container {container['name']}", security, container)


def check_container(
    problems: Problems, where: str, pod_security: dict[str, Any], container: dict[str, Any]
) -> None:
    security = container.get("securityContext", {})
    uid = security.get("runAsUser", pod_security.get("runAsUser"))
    problems.check(isinstance(uid, int) and uid > 0, f"{where}: runAsUser must be a non-root uid")
    if APP_IMAGE.search(container.get("image", "")):
        problems.check(uid == APP_UID, f"{where}: the image's user is uid {APP_UID}, not {uid}")
    problems.check(
        not container.get("image", "").endswith(":latest") and ":" in container.get("image", ""),
        f"{where}: the image needs a fixed tag",
    )
    problems.check(
        security.get("allowPrivilegeEscalation") is False,
        f"{where}: allowPrivilegeEscalation must be false",
    )
    problems.check(not security.get("privileged"), f"{where}: privileged")
    problems.check(
        security.get("readOnlyRootFilesystem") is True, f"{where}: readOnlyRootFilesystem"
    )
    problems.check(
        "ALL" in security.get("capabilities", {}).get("drop", []),
        f"{where}: capabilities must drop ALL",
    )
    problems.check(not security.get("capabilities", {}).get("add"), f"{where}: adds capabilities")
    resources = container.get("resources", {})
    for kind in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            problems.check(resource in resources.get(kind, {}), f"{where}: no {kind}.{resource}")
    for variable in container.get("env", []):
        name, value = variable["name"], variable.get("value")
        if SECRET_NAME.search(name):
            problems.check(
                "secretKeyRef" in variable.get("valueFrom", {}),
                f"{where}: {name} must come from a Secret (secretKeyRef)",
            )
        if value is not None:
            problems.check(
                not LITERAL_URL_PASSWORD.search(value),
                f"{where}: {name} holds a password in its URL (use $(VAR) from a Secret)",
            )


def env_value(container: dict[str, Any], name: str) -> str:
    return next((v.get("value", "") for v in container.get("env", []) if v["name"] == name), "")


def secret_key(container: dict[str, Any], name: str) -> tuple[str, str] | None:
    """(Secret, key) the variable `name` of the container takes its value from, if any."""
    for variable in container.get("env", []):
        if variable["name"] == name:
            ref = variable.get("valueFrom", {}).get("secretKeyRef")
            return (ref.get("name", ""), ref.get("key", "")) if ref else None
    return None


def secret_reads(pod: dict[str, Any]) -> tuple[set[tuple[str, str]], set[str]]:
    """What a pod reads of Secrets: {(Secret, key)}, and {Secret} it reads whole (envFrom, or a
    volume without items)."""
    keys: set[tuple[str, str]] = set()
    whole: set[str] = set()
    for container in pod.get("initContainers", []) + pod.get("containers", []):
        for variable in container.get("env", []):
            ref = variable.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                keys.add((ref.get("name", ""), ref.get("key", "")))
        for source in container.get("envFrom", []):
            if "secretRef" in source:
                whole.add(source["secretRef"].get("name", ""))
    for volume in pod.get("volumes", []):
        secret = volume.get("secret")
        if secret is None:
            continue
        if secret.get("items"):
            keys |= {(secret.get("secretName", ""), item["key"]) for item in secret["items"]}
        else:
            whole.add(secret.get("secretName", ""))
    return keys, whole


def documented_secrets(text: str) -> list[dict[str, str]]:
    """The --from-literal KEY=VALUE of each `kubectl ... create secret generic` of SECRET that a
    file documents (in comments or a code block), VALUE as the shell gets it, $VAR unexpanded."""
    lines = [re.sub(r"^\s*#?\s?", "", line) for line in text.splitlines()]
    commands: list[str] = []
    current = ""
    for line in lines:
        current += line.rstrip()
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        commands.append(current)
        current = ""
    found = []
    for command in commands:
        if not re.search(rf"\bcreate\s+secret\s+generic\s+{SECRET}\b", command):
            continue
        try:
            words = shlex.split(command, comments=True)
        except ValueError:
            continue
        literals = {}
        for word in words:
            if word.startswith("--from-literal="):
                key, _, value = word.removeprefix("--from-literal=").partition("=")
                literals[key] = value
        found.append(literals)
    return found


def check_documented_secret(
    problems: Problems, where: str, literals: dict[str, str], read: dict[str, set[str]]
) -> None:
    """The documented Secret holds what the pods read, and the right logins in its URLs."""
    for key in sorted(set(read) - set(literals)):
        problems.add(
            f"{where}: the documented Secret has no {key}, read by {', '.join(sorted(read[key]))}"
        )
    for key in sorted(set(literals) - set(read)):
        problems.add(f"{where}: the documented Secret has {key}, which no pod reads")
    for key, user, through_pooler in (
        (OWNER_URL_KEY, OWNER_ROLE, False),
        (APP_URL_KEY, APP_LOGIN_ROLE, True),
    ):
        if key not in literals:
            continue
        match = DATABASE_URL.match(literals[key])
        if not problems.check(match, f"{where}: {key} is no postgresql:// URL"):
            continue
        assert match is not None
        found_user, password, host, port, database = match.groups()
        address = f"{host}:{port or 5432}"
        problems.check(
            found_user == user and found_user != DEFAULT_SUPERUSER,
            f"{where}: {key} logs in as {found_user}, not as {user}",
        )
        problems.check(database == DATABASE, f"{where}: {key} names database {database}")
        if through_pooler:
            problems.check(
                address == "pgbouncer:6432", f"{where}: {key} must go through pgbouncer:6432"
            )
            problems.check(
                APP_PASSWORD_KEY in literals and password == literals[APP_PASSWORD_KEY],
                f"{where}: {key}'s password must be {APP_PASSWORD_KEY}'s (PgBouncer lets"
                f" {user} in with {APP_PASSWORD_KEY})",
            )
        else:
            problems.check(
                address != "pgbouncer:6432",
                f"{where}: {key} must go straight to Postgres (DDL), not through the pooler",
            )


def main() -> None:
    k8s_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else DEPLOY / "k8s"
    pgbouncer_ini = k8s_dir.parent / "pgbouncer.ini"
    problems = Problems("k8s")
    docs: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(k8s_dir.glob("*.yaml")):
        if path.name == "keda.yaml":  # checked by keda.py
            continue
        docs += [(path.name, doc) for doc in load_yaml_documents(path)]
    by_kind: dict[tuple[str, str], dict[str, Any]] = {}
    pods: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    for file, doc in docs:
        kind, name = str(doc.get("kind")), str(doc.get("metadata", {}).get("name"))
        where = f"{file}: {kind} {name}"
        by_kind[(kind, name)] = doc
        problems.check(kind != "Secret", f"{where}: no Secret in files (kubectl create secret)")
        if kind != "Namespace":
            problems.check(
                doc["metadata"].get("namespace") == NAMESPACE, f"{where}: namespace {NAMESPACE}"
            )
        if kind in WORKLOADS:
            pod = pod_spec(doc)
            check_pod(problems, where, pod)
            labels = doc["spec"].get("template", {}).get("metadata", {}).get("labels", {})
            pods[name] = (doc, pod)
            problems.check(labels, f"{where}: pod template without labels")
            selector = doc["spec"].get("selector", {}).get("matchLabels")
            if selector is not None:
                problems.check(
                    selector.items() <= labels.items(), f"{where}: selector misses its pods"
                )
    problems.check(("Namespace", NAMESPACE) in by_kind, f"no Namespace {NAMESPACE}")

    for role, expected in COMMANDS.items():
        if not problems.check(role in pods, f"no workload {role}"):
            continue
        doc, pod = pods[role]
        container = pod["containers"][0]
        command = container.get("command", []) + container.get("args", [])
        problems.check(
            starts_with(command, expected), f"{role}: command must run {' '.join(expected)}"
        )
        wanted = OWNER_URL_KEY if role == "migrate" else APP_URL_KEY
        login = (
            f"{OWNER_ROLE} straight to Postgres"
            if role == "migrate"
            else f"{APP_LOGIN_ROLE} through PgBouncer"
        )
        problems.check(
            secret_key(container, "ACCOUNTING_DATABASE_URL") == (SECRET, wanted),
            f"{role}: ACCOUNTING_DATABASE_URL must come from Secret {SECRET}, key {wanted}"
            f" ({login})",
        )
        problems.check(
            env_value(container, "ACCOUNTING_REDIS_URL").startswith("redis://:$(REDIS_PASSWORD)@"),
            f"{role}: ACCOUNTING_REDIS_URL must carry the Redis password",
        )

    for role, prefix in WORKERS.items():
        if role not in pods:
            continue
        doc, pod = pods[role]
        problems.check(
            pod.get("terminationGracePeriodSeconds") == 60,
            f"{role}: terminationGracePeriodSeconds must be 60 (warm shutdown)",
        )
        probe = " ".join(
            pod["containers"][0].get("livenessProbe", {}).get("exec", {}).get("command", [])
        )
        problems.check(
            "inspect ping" in probe and f'-d "{prefix}@' in probe,
            f"{role}: liveness must be `celery inspect ping -d {prefix}@<hostname>`",
        )
    if "beat" in pods:
        doc, pod = pods["beat"]
        problems.check(doc["spec"].get("replicas") == 1, "beat: exactly one replica")
        problems.check(doc["spec"].get("strategy", {}).get("type") == "Recreate", "beat: Recreate")
        command = pod["containers"][0]["command"]
        schedule = command[command.index("--schedule") + 1] if "--schedule" in command else ""
        probe = " ".join(
            pod["containers"][0].get("livenessProbe", {}).get("exec", {}).get("command", [])
        )
        problems.check(
            schedule and Path(schedule).name in probe and str(Path(schedule).parent) in probe,
            "beat: the liveness probe must read the schedule file beat writes (--schedule)",
        )
    if "api" in pods:
        container = pods["api"][1]["containers"][0]
        for probe in ("readinessProbe", "livenessProbe"):
            problems.check(
                container.get(probe, {}).get("httpGet", {}).get("path") == "/healthz",
                f"api: {probe} must GET /healthz",
            )

    for file, doc in docs:
        if doc.get("kind") != "Service" or doc["spec"].get("type") == "ExternalName":
            continue
        name = doc["metadata"]["name"]
        selector = doc["spec"].get("selector", {})
        matched = [
            pod
            for workload, pod in pods.values()
            if selector.items()
            <= workload["spec"]["template"]["metadata"].get("labels", {}).items()
        ]
        if not problems.check(matched, f"{file}: Service {name} selects no pods"):
            continue
        ports = {
            port.get("name"): port["containerPort"]
            for pod in matched
            for container in pod["containers"]
            for port in container.get("ports", [])
        }
        for port in doc["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            problems.check(
                target in ports or target in ports.values(),
                f"{file}: Service {name} targets port {target}, which its pods do not open",
            )

    # Who reads what of the Secret: the owner's URL is the migrate Job's alone.
    read: dict[str, set[str]] = {}
    for name, (_, pod) in pods.items():
        keys, whole = secret_reads(pod)
        problems.check(
            SECRET not in whole,
            f"{name}: reads all of Secret {SECRET} (envFrom or a volume), {OWNER_URL_KEY}"
            " included: take each key it needs by secretKeyRef",
        )
        for secret, key in keys:
            if secret == SECRET:
                read.setdefault(key, set()).add(name)
        problems.check(
            name == "migrate" or (SECRET, OWNER_URL_KEY) not in keys,
            f"{name}: reads {OWNER_URL_KEY}, the owner's login: only the migrate Job may",
        )

    # PgBouncer's auth file: accounting_worker and the admin console, nobody else.
    if problems.check("pgbouncer" in pods, "no pgbouncer workload"):
        container = pods["pgbouncer"][1]["containers"][0]
        auth_file = re.search(r"^\s*auth_file\s*=\s*(\S+)", pgbouncer_ini.read_text(), re.M)
        script = " ".join(container.get("command", []) + container.get("args", []))
        entries = userlist_entries(script, auth_file.group(1) if auth_file else "")
        if problems.check(entries, "pgbouncer: its command writes no auth file with printf"):
            assert entries is not None
            users = dict(entries)
            for user, what in ((DEFAULT_SUPERUSER, "a superuser"), (OWNER_ROLE, "the owner")):
                problems.check(
                    user not in users,
                    f"pgbouncer: the auth file holds {what} ({user}): only {APP_LOGIN_ROLE}"
                    " and the admin console's user come through the pooler",
                )
            problems.check(
                APP_LOGIN_ROLE in users, f"pgbouncer: the auth file lacks {APP_LOGIN_ROLE}"
            )
            for user, password in users.items():
                reference = re.fullmatch(r"\$\{?(\w+)\}?", password)
                source = secret_key(container, reference.group(1)) if reference else None
                problems.check(
                    source and source[0] == SECRET,
                    f"pgbouncer: {user}'s password must be $VAR of a secretKeyRef of {SECRET}",
                )
                if user == APP_LOGIN_ROLE and source:
                    problems.check(
                        source == (SECRET, APP_PASSWORD_KEY),
                        f"pgbouncer: {user}'s password must be the Secret's {APP_PASSWORD_KEY}"
                        f" (the one in {APP_URL_KEY}), not {source[1]}",
                    )

    # The Secret the manifests expect, as config.yaml and deploy/README.md tell how to make it.
    for doc_path in (k8s_dir / "config.yaml", k8s_dir.parent / "README.md"):
        documented = documented_secrets(doc_path.read_text()) if doc_path.is_file() else []
        if not problems.check(
            documented, f"{doc_path.name}: documents no `kubectl create secret generic {SECRET}`"
        ):
            continue
        for literals in documented:
            check_documented_secret(problems, doc_path.name, literals, read)

    config = by_kind.get(("ConfigMap", "pgbouncer-config"))
    if config is None:
        problems.add("no ConfigMap pgbouncer-config")
    else:
        problems.check(
            config["data"].get("pgbouncer.ini") == pgbouncer_ini.read_text(),
            f"ConfigMap pgbouncer-config differs from {pgbouncer_ini.name}: copy it over",
        )
    redis = pods.get("redis")
    if redis is None:
        problems.add("no redis workload")
    else:
        command = " ".join(redis[1]["containers"][0]["command"])
        for flag in ("--appendonly yes", "--appendfsync everysec", "requirepass", "--dir /data"):
            problems.check(flag in command, f"redis: its command lacks {flag}")
        mounts = {m["mountPath"] for m in redis[1]["containers"][0].get("volumeMounts", [])}
        claims = redis[0]["spec"].get("volumeClaimTemplates", [])
        problems.check("/data" in mounts and claims, "redis: /data must be a PersistentVolume")
    problems.finish(
        f"{len(docs)} resources: no secrets, every pod non-root with a read-only root,"
        f" commands, probes and Services as required, the owner's URL for migrate only,"
        f" PgBouncer for {APP_LOGIN_ROLE} only, the documented Secret as the pods read it"
    )


if __name__ == "__main__":
    main()
