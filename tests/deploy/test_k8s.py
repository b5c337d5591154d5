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
    backup_secrets = [e["name"] for e in backup["env"] if "valueFrom" in e]
    assert backup_secrets == ["ASSISTANT_DATABASE_URL"]  # only what it uses: no API token
    server = next(o for o in objects if o["kind"] == "Deployment")
    container = pod_spec(server)["containers"][0]
    secrets = {
        e["name"]: e["valueFrom"]["secretKeyRef"]
        for e in container["env"]
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    assert set(secrets) == {
        "ASSISTANT_API_TOKEN",
        "ASSISTANT_DATABASE_URL",
        "ASSISTANT_REDIS_URL",
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
