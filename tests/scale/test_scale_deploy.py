"""The Kubernetes manifest in deploy/ holds together: structure, selectors, probes, env, config.

Nothing here needs a cluster: each object is checked for what Kubernetes would reject or what
would silently break (a selector matching no pod, a probe on a path the app does not serve, an
env var no setting reads), and the configuration it ships is loaded by mlresponder's own loaders.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from scale_support import TOKEN

from bot.api import create_app
from bot.config import _ENV_KEYS, Settings
from bot.monitors.loader import load_config
from bot.wiring import create_runtime
from runbooks.loader import load_runbooks

REPO = Path(__file__).resolve().parents[2]
MANIFEST = REPO / "deploy" / "kubernetes.yaml"
API_VERSIONS = {"Deployment": "apps/v1", "Service": "v1", "PodDisruptionBudget": "policy/v1", "ConfigMap": "v1"}


@pytest.fixture(scope="module")
def objects() -> dict[str, dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all(MANIFEST.read_text()) if d]
    by_kind: dict[str, dict[str, Any]] = {}
    for doc in docs:
        kind = doc["kind"]
        assert doc["apiVersion"] == API_VERSIONS[kind], (kind, doc["apiVersion"])
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", doc["metadata"]["name"])
        assert kind not in by_kind, f"two {kind}s"
        by_kind[kind] = doc
    assert set(by_kind) == set(API_VERSIONS)
    return by_kind


def _pod(objects: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return objects["Deployment"]["spec"]["template"]


def _container(objects: dict[str, dict[str, Any]]) -> dict[str, Any]:
    containers = _pod(objects)["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def test_selectors_of_deployment_service_and_budget_match_the_pods(objects: dict[str, dict[str, Any]]) -> None:
    labels = _pod(objects)["metadata"]["labels"]
    deployment = objects["Deployment"]["spec"]
    assert _selects(deployment["selector"]["matchLabels"], labels)
    assert _selects(objects["Service"]["spec"]["selector"], labels)
    assert _selects(objects["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"], labels)
    # Several replicas, and a budget that a drain can satisfy (it leaves some pods to evict).
    assert deployment["replicas"] >= 2
    assert 1 <= objects["PodDisruptionBudget"]["spec"]["minAvailable"] < deployment["replicas"]


def test_ports_and_probes_point_at_what_the_app_serves(objects: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    container = _container(objects)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    exposed = re.search(r"^EXPOSE (\d+)$", (REPO / "Dockerfile").read_text(), re.M)
    assert exposed and ports == {"http": int(exposed.group(1))}
    for port in objects["Service"]["spec"]["ports"]:
        assert port["targetPort"] in ports
    annotations = _pod(objects)["metadata"]["annotations"]
    assert int(annotations["prometheus.io/port"]) == ports["http"]
    paths = {annotations["prometheus.io/path"]}
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        spec = container[probe]
        action = spec.get("httpGet") or spec.get("tcpSocket")
        assert action is not None and action["port"] in ports, probe
        if "httpGet" in spec:
            paths.add(spec["httpGet"]["path"])
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'probe.db'}", scheduler_enabled=True,
                        postmortem_dir=str(tmp_path / "pm"), api_token=TOKEN)
    runtime = create_runtime(settings)
    try:
        runtime.start()
        with TestClient(create_app(runtime), headers={"Authorization": f"Bearer {TOKEN}"}) as client:
            for path in sorted(paths):
                response = client.get(path)
                assert response.status_code == 200, (path, response.status_code)
            assert "mlresponder_scheduler_leader 1.0" in client.get("/metrics").text
    finally:
        runtime.close()


def test_env_names_are_settings_and_references_resolve(objects: dict[str, dict[str, Any]]) -> None:
    container = _container(objects)
    for var in container["env"]:
        assert var["name"] in _ENV_KEYS, f"{var['name']} is not a setting mlresponder reads"
        assert ("value" in var) != ("valueFrom" in var), var["name"]
    volumes = {v["name"]: v for v in _pod(objects)["spec"]["volumes"]}
    assert {m["name"] for m in container["volumeMounts"]} <= set(volumes)
    config_map = objects["ConfigMap"]
    for volume in volumes.values():
        if "configMap" in volume:
            assert volume["configMap"]["name"] == config_map["metadata"]["name"]
            assert {i["key"] for i in volume["configMap"]["items"]} <= set(config_map["data"])


def test_shipped_configuration_loads(objects: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    """What the ConfigMap mounts is what the settings point at, and mlresponder's loaders accept it."""
    container = _container(objects)
    env = {v["name"]: v["value"] for v in container["env"] if "value" in v}
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volume = next(v for v in _pod(objects)["spec"]["volumes"] if "configMap" in v)
    data = objects["ConfigMap"]["data"]
    for item in volume["configMap"]["items"]:
        target = tmp_path / item["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(data[item["key"]])
    root = mounts[volume["name"]]
    monitors = env["MLRESPONDER_MONITORS"]
    runbooks = env["MLRESPONDER_RUNBOOKS"]
    assert monitors.startswith(root + "/") and runbooks.startswith(root + "/")
    load_config(str(tmp_path / monitors[len(root) + 1:]))
    assert len(load_runbooks([tmp_path / runbooks[len(root) + 1:]])) == 1
