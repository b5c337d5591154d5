"""The Kubernetes manifests: each overlay rendered by kustomize (``kubectl kustomize``),
every object validated offline against a pinned Kubernetes version's schemas
(kubernetes-validate, strict), and a policy over the rendered objects."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from embedded_server.config import Settings
from tests.deploy.test_monitoring import need

K8S = Path(__file__).resolve().parents[2] / "packaging" / "k8s"
KUBERNETES_VERSION = "1.32.0"
OVERLAYS = ["base", "overlays/single-gpu", "overlays/multi-gpu"]


def render(where: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [need("kubectl"), "kustomize", str(K8S / where)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def workloads(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] in ("Deployment", "StatefulSet", "CronJob")]


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    if workload["kind"] == "CronJob":
        workload = workload["spec"]["jobTemplate"]
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


@pytest.mark.parametrize("where", OVERLAYS)
def test_every_rendered_object_is_valid_for_the_pinned_kubernetes(where: str) -> None:
    objects = render(where)
    assert objects
    for obj in objects:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("where", OVERLAYS)
def test_policy_probes_limits_non_root_pinned_images(where: str) -> None:
    for workload in workloads(render(where)):
        spec = pod_spec(workload)
        name = workload["metadata"]["name"]
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["automountServiceAccountToken"] is False, name
        for container in spec["containers"]:
            where_ = f"{name}/{container['name']}"
            image = container["image"]
            assert ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest"), where_
            if workload["kind"] != "CronJob":  # a job ends by itself: no probes
                assert {"livenessProbe", "readinessProbe"} <= container.keys(), where_
            resources = container["resources"]
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= resources[kind].keys(), where_
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, where_
            assert security["readOnlyRootFilesystem"] is True, where_
            assert security["capabilities"]["drop"] == ["ALL"], where_


def test_the_server_reads_its_secrets_and_streams_through_the_ingress() -> None:
    objects = render("base")
    kinds = {o["kind"] for o in objects}
    assert {
        "Deployment", "Service", "Ingress", "HorizontalPodAutoscaler", "PodDisruptionBudget",
        "NetworkPolicy", "ConfigMap", "CronJob", "PersistentVolumeClaim",
    } <= kinds  # fmt: skip
    backup = pod_spec(next(o for o in objects if o["kind"] == "CronJob"))["containers"][0]
    assert "backup create" in backup["args"][0] and "backup prune" in backup["args"][0]
    backup_job = next(o for o in objects if o["kind"] == "CronJob")
    assert secret_files(backup_job) == {"ASSISTANT_DATABASE_URL_FILE": "database-url"}
    server = next(o for o in objects if o["kind"] == "Deployment")
    container = pod_spec(server)["containers"][0]
    assert secret_files(server) == {
        "ASSISTANT_API_TOKEN_FILE": "api-token",
        "ASSISTANT_DATABASE_URL_FILE": "database-url",
        "ASSISTANT_REDIS_URL_FILE": "redis-url",
    }
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    ingress = next(o for o in objects if o["kind"] == "Ingress")
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-buffering"] == (
        "off"
    )
    config = next(o for o in objects if o["kind"] == "ConfigMap")["data"]
    settings = {k.removeprefix("ASSISTANT_").lower(): v for k, v in config.items()}
    settings.pop("log_format")
    Settings(**settings, api_token="from-the-secret")  # the server accepts its configuration


def secret_files(workload: dict[str, Any]) -> dict[str, str]:
    """The ``*_FILE`` variables of a workload's container and the Secret key each reads;
    no secret in its environment, and its volume holds those keys and no other."""
    spec = pod_spec(workload)
    container = spec["containers"][0]
    assert not [e for e in container["env"] if "secretKeyRef" in e.get("valueFrom", {})]
    mount = next(m for m in container["volumeMounts"] if m["name"] == "secrets")
    volume = next(v for v in spec["volumes"] if v["name"] == "secrets")["secret"]
    mounted = {item["path"]: item["key"] for item in volume["items"]}
    files = {
        e["name"]: e["value"].removeprefix(mount["mountPath"] + "/")
        for e in container["env"]
        if e["name"].endswith("_FILE")
    }
    assert sorted(files.values()) == sorted(mounted)  # each mounted key is read
    return {name: mounted[path] for name, path in files.items()}


def test_metrics_have_their_own_port_which_nothing_routes() -> None:
    objects = render("overlays/single-gpu")
    config = next(o for o in objects if o["kind"] == "ConfigMap")["data"]
    server = next(o for o in objects if o["kind"] == "Deployment")
    ports = {p["name"]: p["containerPort"] for p in pod_spec(server)["containers"][0]["ports"]}
    assert ports["metrics"] == int(config["ASSISTANT_METRICS_PORT"]) != ports["http"]
    annotations = server["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(ports["metrics"])
    service = next(
        o for o in objects if o["kind"] == "Service" and o["metadata"]["name"] == "assistant"
    )
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]  # the Ingress's
    policy = next(
        o for o in objects if o["metadata"]["name"] == "assistant" and o["kind"] == "NetworkPolicy"
    )
    allowed = {
        rule["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]: [
            p["port"] for p in rule["ports"]
        ]
        for rule in policy["spec"]["ingress"]
    }
    assert allowed == {"ingress-nginx": ["http"], "monitoring": ["metrics"]}


@pytest.mark.parametrize("where", ["overlays/single-gpu", "overlays/multi-gpu"])
def test_only_the_server_pods_reach_ollama(where: str) -> None:
    objects = render(where)
    ollama = next(o for o in objects if o["kind"] == "StatefulSet")
    server = next(o for o in objects if o["kind"] == "Deployment")
    server_labels = server["spec"]["template"]["metadata"]["labels"]
    ollama_labels = ollama["spec"]["template"]["metadata"]["labels"]

    def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
        return selector["matchLabels"].items() <= labels.items()

    policies = [
        o
        for o in objects
        if o["kind"] == "NetworkPolicy" and selects(o["spec"]["podSelector"], ollama_labels)
    ]
    assert len(policies) == 1 and policies[0]["spec"]["policyTypes"] == ["Ingress"]
    (rule,) = policies[0]["spec"]["ingress"]
    (peer,) = rule["from"]  # one peer: pods of this namespace, no namespaceSelector
    assert set(peer) == {"podSelector"} and selects(peer["podSelector"], server_labels)
    backup = next(o for o in objects if o["kind"] == "CronJob")["spec"]["jobTemplate"]
    backup_labels = backup["spec"]["template"]["metadata"]["labels"]
    assert not selects(peer["podSelector"], backup_labels)  # not even the backups


def test_single_gpu_has_one_ollama_on_one_gpu() -> None:
    ollama = next(o for o in render("overlays/single-gpu") if o["kind"] == "StatefulSet")
    assert ollama["spec"]["replicas"] == 1
    limits = pod_spec(ollama)["containers"][0]["resources"]["limits"]
    assert limits["nvidia.com/gpu"] == "1"
    assert ollama["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "models"


def test_multi_gpu_lists_every_ollama_pod_as_a_runner() -> None:
    objects = render("overlays/multi-gpu")
    ollama = next(o for o in objects if o["kind"] == "StatefulSet")
    service = next(
        o for o in objects if o["kind"] == "Service" and o["metadata"]["name"] == "ollama"
    )
    assert service["spec"]["clusterIP"] == "None"  # headless: a DNS name per pod
    config = next(o for o in objects if o["kind"] == "ConfigMap")["data"]
    runners = Settings(runners=json.loads(config["ASSISTANT_RUNNERS"])).runners
    replicas = ollama["spec"]["replicas"]
    assert [r.url for r in runners] == [f"http://ollama-{i}.ollama:11434" for i in range(replicas)]
