"""Offline check of deploy/k8s/keda.yaml.

Schema: each ScaledObject is validated, in pydantic's strict mode, by the model that the PyPI
package cloudcoil-models-keda generates from KEDA's own CRD (keda.sh/v1alpha1 ScaledObject);
a field the CRD does not define is refused too (the model would drop it silently, so the
document is compared with the model's lossless dump). The CRD leaves a trigger's metadata an
open string map: the prometheus trigger's keys are checked against the parameters KEDA
documents for it, and its query is parsed by promtool.

Policy: one ScaledObject per worker Deployment of deploy/k8s, scaling on
accounting_lane_suggested_workers of its own lane with the pod's --concurrency as threshold,
never below one replica, and the Deployment leaves `replicas` to KEDA.

Usage: python deploy/checks/keda.py [KEDA_YAML [K8S_DIR]]"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from checklib import DEPLOY, Problems, check_metric_names, check_promql, load_yaml_documents

#: Parameters of KEDA's prometheus trigger (keda.sh/docs/latest/scalers/prometheus), auth
#: parameters excluded: this Prometheus needs none.
PROMETHEUS_PARAMETERS = {
    "serverAddress",
    "query",
    "threshold",
    "activationThreshold",
    "namespace",
    "customHeaders",
    "ignoreNullValues",
    "queryParameters",
    "unsafeSsl",
    "timeout",
}
REQUIRED_PARAMETERS = {"serverAddress", "query", "threshold"}
#: Deployment name -> the lane it serves.
WORKERS = {"worker-high": "high", "worker-normal": "normal"}


def unknown_fields(given: Any, kept: Any, path: str = "") -> list[str]:
    """Paths present in the document but absent from the model's dump: fields the CRD lacks."""
    if isinstance(given, dict) and isinstance(kept, dict):
        found = []
        for key, value in given.items():
            if key not in kept:
                found.append(f"{path}.{key}".lstrip("."))
            else:
                found += unknown_fields(value, kept[key], f"{path}.{key}")
        return found
    if isinstance(given, list) and isinstance(kept, list):
        return [
            field
            for index, (a, b) in enumerate(zip(given, kept, strict=False))
            for field in unknown_fields(a, b, f"{path}[{index}]")
        ]
    return []


def validate_schema(problems: Problems, where: str, doc: dict[str, Any]) -> bool:
    from cloudcoil.models.keda.v1alpha1 import ScaledObject
    from pydantic import ValidationError

    try:
        model = ScaledObject.model_validate(doc, strict=True)
    except ValidationError as exc:
        for error in exc.errors():
            location = ".".join(str(part) for part in error["loc"])
            problems.add(f"{where}: {location}: {error['msg']} (KEDA ScaledObject schema)")
        return False
    kept = model.model_dump(by_alias=True, exclude_unset=True, mode="json")
    for field in unknown_fields(doc, kept):
        problems.add(f"{where}: {field}: not a field of KEDA's ScaledObject")
    return True


def concurrency(deployment: dict[str, Any]) -> int | None:
    command = deployment["spec"]["template"]["spec"]["containers"][0].get("command", [])
    for index, argument in enumerate(command):
        if argument == "--concurrency" and index + 1 < len(command):
            return int(command[index + 1])
        if argument.startswith("--concurrency="):
            return int(argument.split("=", 1)[1])
    return None


def main() -> None:
    keda_path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEPLOY / "k8s/keda.yaml"
    k8s_dir = Path(sys.argv[2]) if len(sys.argv) > 2 else keda_path.parent
    problems = Problems("keda")
    deployments = {
        doc["metadata"]["name"]: doc
        for path in sorted(k8s_dir.glob("*.yaml"))
        if path.name != keda_path.name
        for doc in load_yaml_documents(path)
        if doc.get("kind") == "Deployment"
    }
    scaled: dict[str, str] = {}
    queries: list[tuple[str, str]] = []
    for doc in load_yaml_documents(keda_path):
        name = doc.get("metadata", {}).get("name")
        where = f"{keda_path.name}: {doc.get('kind')} {name}"
        if not problems.check(
            doc.get("apiVersion") == "keda.sh/v1alpha1" and doc.get("kind") == "ScaledObject",
            f"{where}: only keda.sh/v1alpha1 ScaledObjects belong here",
        ):
            continue
        target_name = (doc.get("spec") or {}).get("scaleTargetRef", {}).get("name")
        if not validate_schema(problems, where, doc):
            scaled.setdefault(target_name, name)  # reported already, not as missing
            continue
        spec = doc["spec"]
        target = spec["scaleTargetRef"]
        problems.check(
            target.get("kind", "Deployment") == "Deployment"
            and target.get("apiVersion", "apps/v1") == "apps/v1",
            f"{where}: must scale an apps/v1 Deployment",
        )
        lane = WORKERS.get(target_name)
        if not problems.check(lane, f"{where}: scales {target_name}, not a worker pool"):
            continue
        problems.check(target_name not in scaled, f"{where}: {target_name} scaled twice")
        scaled[target_name] = name
        deployment = deployments.get(target_name)
        if deployment is None:
            problems.add(f"{where}: no Deployment {target_name} in {k8s_dir}")
        else:
            problems.check(
                doc["metadata"].get("namespace") == deployment["metadata"].get("namespace"),
                f"{where}: not in the namespace of Deployment {target_name}",
            )
            problems.check(
                "replicas" not in deployment["spec"],
                f"{where}: Deployment {target_name} sets replicas (every apply would reset KEDA)",
            )
        minimum = spec.get("minReplicaCount", 0)
        maximum = spec.get("maxReplicaCount", 100)
        problems.check(minimum >= 1, f"{where}: minReplicaCount must be at least 1, not {minimum}")
        problems.check(maximum >= minimum, f"{where}: maxReplicaCount below minReplicaCount")
        fallback = spec.get("fallback")
        if fallback:
            problems.check(
                minimum <= fallback["replicas"] <= maximum,
                f"{where}: fallback replicas outside min..max",
            )
        triggers = spec.get("triggers", [])
        problems.check(triggers, f"{where}: no triggers")
        for number, trigger in enumerate(triggers):
            trigger_where = f"{where} trigger {number}"
            if not problems.check(
                trigger["type"] == "prometheus", f"{trigger_where}: must be a prometheus trigger"
            ):
                continue
            metadata = trigger.get("metadata", {})
            for key in sorted(REQUIRED_PARAMETERS - set(metadata)):
                problems.add(f"{trigger_where}: no {key}")
            for key in sorted(set(metadata) - PROMETHEUS_PARAMETERS):
                problems.add(f"{trigger_where}: {key} is not a prometheus trigger parameter")
            problems.check(
                re.fullmatch(r"https?://[^\s/]+(:\d+)?(/\S*)?", metadata.get("serverAddress", "")),
                f"{trigger_where}: serverAddress is not an http(s) URL",
            )
            query = metadata.get("query", "")
            check_metric_names(problems, trigger_where, query)
            problems.check(
                re.search(
                    rf'accounting_lane_suggested_workers\{{\s*lane\s*=\s*"{lane}"\s*\}}', query
                ),
                f'{trigger_where}: must query accounting_lane_suggested_workers{{lane="{lane}"}}',
            )
            queries.append((trigger_where, query))
            try:
                threshold = float(metadata.get("threshold", ""))
            except ValueError:
                problems.add(f"{trigger_where}: threshold is not a number")
                continue
            processes = concurrency(deployment) if deployment else None
            problems.check(
                processes is not None and threshold == processes,
                f"{trigger_where}: threshold {threshold:g} must be the pod's --concurrency"
                f" ({processes}): the metric counts worker processes",
            )
            if "ignoreNullValues" in metadata:
                problems.check(
                    metadata["ignoreNullValues"] in ("true", "false"),
                    f"{trigger_where}: ignoreNullValues must be the string true or false",
                )
    for missing in sorted(set(WORKERS) - set(scaled)):
        problems.add(f"{keda_path.name}: no ScaledObject scales {missing}")
    check_promql(problems, queries)
    problems.finish(
        f"{keda_path.name}: {len(scaled)} ScaledObjects valid against KEDA's ScaledObject schema"
        " (cloudcoil-models-keda, strict, no unknown fields), queries parsed, min replicas >= 1"
    )


if __name__ == "__main__":
    main()
