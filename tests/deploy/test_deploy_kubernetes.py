"""deploy/kubernetes/: the manifests validate offline against Kubernetes' own schemas
(kubernetes-validate ships them), and say what the README promises: replicas, readiness on
/readyz, liveness on /healthz, resources, a locked-down securityContext, a Service and a
PodDisruptionBudget; the container file runs a non-root user with a HEALTHCHECK.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "kubernetes"
#: the oldest Kubernetes release the manifests are checked against (and the newest below)
VERSIONS = ("1.29.0", "latest")


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((K8S / name).read_text())
    assert isinstance(data, dict)
    return data


def manifests() -> list[str]:
    return list(load("kustomization.yaml")["resources"])


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", ["deployment.yaml", "service.yaml", "poddisruptionbudget.yaml"])
def test_manifests_validate_offline_and_strictly(name: str, version: str) -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    target = kubernetes_validate.latest_version() if version == "latest" else version
    # strict: an unknown or misspelt field (``httpGett``) is an error, not ignored
    kubernetes_validate.validate(load(name), target, strict=True)


def test_a_misspelt_field_is_caught() -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    bad = load("deployment.yaml")
    bad["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGett"] = {}
    with pytest.raises(kubernetes_validate.ValidationError, match="httpGett"):
        kubernetes_validate.validate(bad, "1.29.0", strict=True)


def test_the_kustomization_lists_every_manifest() -> None:
    on_disk = sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
    assert sorted(manifests()) == on_disk


def test_the_deployment_keeps_the_serving_promises() -> None:
    deployment, service, pdb = (load(n) for n in manifests())
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    labels = spec["template"]["metadata"]["labels"]
    assert spec["replicas"] >= 3 and spec["selector"]["matchLabels"].items() <= labels.items()
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert "memory" in container["resources"]["limits"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"]
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert {"/cache", "/tmp"} <= mounts  # the only writable places
    assert pod["terminationGracePeriodSeconds"] > 30  # past the server's 30 s drain
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": 8000}
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["spec"]["minAvailable"] < spec["replicas"]  # a drain can always proceed


def _instructions(text: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_the_container_file_runs_non_root_with_a_healthcheck_and_valid_flags() -> None:
    from mlgate.cli import serve

    steps = _instructions((K8S / "Dockerfile").read_text())
    kinds = [k for k, _ in steps]
    assert kinds[0] == "FROM" and "HEALTHCHECK" in kinds
    user = [v for k, v in steps if k == "USER"]
    assert user and user[-1].split(":")[0] not in ("0", "root")
    assert kinds.index("USER") < kinds.index("ENTRYPOINT")
    health = next(v for k, v in steps if k == "HEALTHCHECK")
    assert "/healthz" in health
    entry = json.loads(next(v for k, v in steps if k == "ENTRYPOINT"))
    cmd = json.loads(next(v for k, v in steps if k == "CMD"))
    assert entry[:2] == ["mlgate", "serve"]
    parser = argparse.ArgumentParser()
    serve.configure(parser)
    args = parser.parse_args(entry[2:] + cmd)  # flags mlgate serve really takes
    assert (args.host, args.port, args.cache_dir) == ("0.0.0.0", 8000, "/cache")
    container = load("deployment.yaml")["spec"]["template"]["spec"]["containers"][0]
    args = parser.parse_args(entry[2:] + container["args"])  # the Deployment's own args
    assert args.repo.startswith("https://") and args.interval == 30
    text = (K8S / "Dockerfile.dockerignore").read_text()
    ignore = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert ignore[0] == "*" and "!src/" in ignore and "!pyproject.toml" in ignore
