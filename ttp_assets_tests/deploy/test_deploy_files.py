"""The deployment files, parsed and checked against the code (issue 12, "Deploy files are
tested"): every environment variable they set is one the code, the instance config or the
Flight front's template reads (``ttp_assets.settings.VARIABLES``), every required one is set, and
the instance config and the Dagster parts of the Helm values pass Dagster's own config schemas.

What is not checked here: the Helm chart's own ``values.schema.json`` is not in any Python
package (it ships with the chart, which needs Helm and the network); the values' keys are
checked against the chart's templates as mapped below, and their Dagster configuration
against Dagster's schemas.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml
from dagster._config import process_config
from dagster._core.instance.config import dagster_instance_config
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster_aws.s3.compute_log_manager import S3ComputeLogManager

from flight_gateway.config import parse_bytes
from ttp_assets.settings import GATEWAY_VARIABLES, REQUIRED_IN_DEPLOYMENT, VARIABLES
from ttp_assets_tests.shared_data import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
IMAGE = "ttp-assets:latest"
# Set by the deployment for Dagster itself: the image runs are launched with.
DAGSTER_VARIABLES = {"DAGSTER_CURRENT_IMAGE"}


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def instance_variables() -> set[str]:
    """The variables ``deploy/dagster.yaml`` reads (``{env: NAME}`` entries)."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if set(node) == {"env"}:
                found.add(node["env"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(_load(DEPLOY / "dagster.yaml"))
    return found


def front_variables() -> set[str]:
    """The variables the Flight front's nginx template reads."""
    text = (DEPLOY / "flight-front" / "flight-front.conf.template").read_text()
    return set(re.findall(r"\$\{(FLIGHT_FRONT_[A-Z_]+|FLIGHT_GATEWAY_[A-Z_]+)\}", text))


def known() -> set[str]:
    return set(VARIABLES) | instance_variables() | DAGSTER_VARIABLES


def test_instance_variables_are_documented_and_the_code_table_is_complete() -> None:
    assert instance_variables() == {
        "DAGSTER_PG_HOST",
        "DAGSTER_PG_PORT",
        "DAGSTER_PG_USER",
        "DAGSTER_PG_PASSWORD",
        "DAGSTER_PG_DB",
        "DAGSTER_COMPUTE_LOGS_BUCKET",
        "AWS_REGION",
    }
    readme = (DEPLOY / "README.md").read_text()
    for name in instance_variables():
        assert name in readme, name


# -- docker compose ----------------------------------------------------------------------------


def _compose() -> dict[str, Any]:
    return _load(DEPLOY / "docker" / "docker-compose.yml")


def test_compose_sets_only_variables_the_code_reads_and_every_required_one() -> None:
    services = _compose()["services"]
    ours = {name: s for name, s in services.items() if s.get("image") == IMAGE}
    assert set(ours) == {"user-code", "webserver", "daemon", "flight-gateway"}
    for name, service in ours.items():
        env = service["environment"]
        assert set(env) <= known(), (name, set(env) - known())
        # Every process loading the instance (and the runs it starts) gets what it reads.
        assert instance_variables() <= set(env), (name, instance_variables() - set(env))
        assert set(REQUIRED_IN_DEPLOYMENT) <= set(env), name
        # A required value is never silently empty: compose refuses to start without it.
        for key in ("TTP_STORAGE_URI", "DAGSTER_PG_PASSWORD", "DAGSTER_COMPUTE_LOGS_BUCKET"):
            assert re.fullmatch(r"\$\{" + key + r":\?[^}]+\}", env[key]), (name, key)
    gateway = ours["flight-gateway"]["environment"]
    assert {k for k in gateway if k.startswith("TTP_FLIGHT_")} <= set(GATEWAY_VARIABLES)
    serving = gateway["TTP_FLIGHT_SERVING_DIR"]
    assert any(v.endswith(":" + serving) for v in ours["flight-gateway"]["volumes"])
    assert "TTP_FLIGHT_TOKENS" in gateway
    front = services["flight-front"]["environment"]
    assert set(front) == front_variables()


def test_compose_compute_logs_reach_the_webserver() -> None:
    """Steps run in the user-code container; the webserver shows their logs. With the instance's
    S3ComputeLogManager both reach the same bucket (no shared disk needed)."""
    compute_logs = _load(DEPLOY / "dagster.yaml")["compute_logs"]
    assert compute_logs["class"] == "S3ComputeLogManager"
    services = _compose()["services"]
    for name in ("user-code", "webserver"):
        assert "DAGSTER_COMPUTE_LOGS_BUCKET" in services[name]["environment"]
    dockerfile = (DEPLOY / "docker" / "Dockerfile").read_text()
    assert "COPY deploy/dagster.yaml ${DAGSTER_HOME}/dagster.yaml" in dockerfile


# -- the instance config -----------------------------------------------------------------------


@pytest.fixture
def instance_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in instance_variables():
        monkeypatch.setenv(name, "5432" if name.endswith("PORT") else "x")


def test_the_instance_config_passes_dagsters_schema(instance_env: None, tmp_path: Path) -> None:
    shutil.copy(DEPLOY / "dagster.yaml", tmp_path / "dagster.yaml")
    config, _ = dagster_instance_config(str(tmp_path))
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert config["run_retries"] == {
        "enabled": True,
        "max_retries": 2,
        "retry_on_asset_or_op_failure": True,
    }
    assert config["compute_logs"]["module"] == "dagster_aws.s3.compute_log_manager"
    # ... and each pluggable part's own config passes that class's schema.
    for section, cls in (
        ("run_coordinator", QueuedRunCoordinator),
        ("compute_logs", S3ComputeLogManager),
    ):
        result = process_config(cls.config_type(), config[section]["config"])
        assert result.success, (section, result.errors)


def test_a_broken_instance_config_is_refused(instance_env: None, tmp_path: Path) -> None:
    """The schema check above is a real one: a misspelt key fails it."""
    text = (DEPLOY / "dagster.yaml").read_text().replace("max_retries:", "max_retry:")
    (tmp_path / "dagster.yaml").write_text(text)
    with pytest.raises(dg.DagsterInvalidConfigError):
        dagster_instance_config(str(tmp_path))


# -- Kubernetes --------------------------------------------------------------------------------


def _values() -> dict[str, Any]:
    return _load(DEPLOY / "k8s" / "values.yaml")


def _camel_to_snake(config: dict[str, Any]) -> dict[str, Any]:
    """The chart renders these values into dagster.yaml with its templates, key by key from
    camelCase to Dagster's snake_case (helm/dagster/templates/helpers/instance/*.tpl)."""
    return {re.sub(r"(?<!^)(?=[A-Z])", "_", k).lower(): v for k, v in config.items()}


def test_helm_values_configure_what_the_deploy_readme_promises() -> None:
    values = _values()
    daemon = values["dagsterDaemon"]
    # Run retries, as in deploy/dagster.yaml (the chart renders them into its instance config).
    assert daemon["runRetries"] == {"enabled": True, "maxRetries": 2}
    instance = _load(DEPLOY / "dagster.yaml")
    assert daemon["runRetries"]["maxRetries"] == instance["run_retries"]["max_retries"]
    # The queued coordinator with the same limits as deploy/dagster.yaml.
    coordinator = daemon["runCoordinator"]
    assert coordinator["enabled"] and coordinator["type"] == "QueuedRunCoordinator"
    queued = _camel_to_snake(coordinator["config"]["queuedRunCoordinator"])
    assert queued == instance["run_coordinator"]["config"]
    result = process_config(QueuedRunCoordinator.config_type(), queued)
    assert result.success, result.errors
    # Compute logs in S3, the same manager and layout as deploy/dagster.yaml.
    logs = values["computeLogManager"]
    assert logs["type"] == "S3ComputeLogManager"
    s3 = _camel_to_snake(logs["config"]["s3ComputeLogManager"])
    assert s3["prefix"] == instance["compute_logs"]["config"]["prefix"]
    result = process_config(S3ComputeLogManager.config_type(), s3)
    assert result.success, result.errors
    # One pod per run, the settings secret in every pod that needs it.
    launcher = values["runLauncher"]
    assert launcher["type"] == "K8sRunLauncher"
    assert launcher["config"]["k8sRunLauncher"]["envSecrets"] == [{"name": "ttp-settings"}]
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    assert deployment["envSecrets"] == [{"name": "ttp-settings"}]
    assert deployment["dagsterApiGrpcArgs"] == ["-m", "ttp_assets.definitions"]
    assert values["dagsterWebserver"]["envSecrets"] == [{"name": "ttp-settings"}]


def test_helm_run_pod_config_is_a_kubernetes_container() -> None:
    """The run pods' container config, parsed into the Kubernetes client's V1Container the way
    the K8s run launcher (dagster-k8s) builds each run's Job from it; unknown keys are refused."""
    import kubernetes
    from dagster_k8s.models import k8s_model_from_dict

    run_config = _values()["runLauncher"]["config"]["k8sRunLauncher"]["runK8sConfig"]
    assert set(run_config) == {"containerConfig"}
    container = k8s_model_from_dict(
        kubernetes.client.V1Container, {"name": "run", **run_config["containerConfig"]}
    )
    assert container.resources.requests == {"cpu": "1", "memory": "2Gi"}
    assert container.resources.limits == {"memory": "8Gi"}
    with pytest.raises(Exception, match="Unexpected keys"):
        k8s_model_from_dict(kubernetes.client.V1Container, {"name": "run", "resourcez": {}})


def _secret_literals() -> dict[str, set[str]]:
    """The keys deploy/README's `kubectl create secret generic NAME --from-literal=KEY=...`
    commands put into each secret."""
    text = (DEPLOY / "README.md").read_text().replace("\\\n", " ")
    secrets: dict[str, set[str]] = {}
    for m in re.finditer(r"kubectl create secret generic (\S+)((?: +--from-literal=\S+)+)", text):
        secrets[m.group(1)] = set(re.findall(r"--from-literal=([A-Z0-9_]+)=", m.group(2)))
    return secrets


def test_k8s_manifests_set_only_variables_the_code_reads() -> None:
    secrets = _secret_literals()
    assert set(secrets) == {"ttp-settings", "ttp-flight"}
    for keys in secrets.values():
        assert keys <= known(), keys - known()
    assert set(REQUIRED_IN_DEPLOYMENT) <= secrets["ttp-settings"]
    assert secrets["ttp-flight"] == {"TTP_FLIGHT_TOKENS"}

    docs = [d for d in yaml.safe_load_all((DEPLOY / "k8s" / "flight-gateway.yaml").read_text())]
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    containers = {c["name"]: c for c in deployment["spec"]["template"]["spec"]["containers"]}
    gateway = containers["gateway"]
    assert gateway["image"].startswith("ttp-assets")
    env = {e["name"] for e in gateway["env"]}
    assert env <= set(GATEWAY_VARIABLES), env - set(GATEWAY_VARIABLES)
    sources = [s["secretRef"]["name"] for s in gateway["envFrom"]]
    assert sources == ["ttp-settings", "ttp-flight"]
    front = {e["name"] for e in containers["front"]["env"]}
    assert front == front_variables()
    # The serving copies live on a volume of their own, bounded below its size limit.
    values = {e["name"]: e.get("value") for e in gateway["env"]}
    mounts = {m["mountPath"]: m["name"] for m in gateway["volumeMounts"]}
    volume = mounts[values["TTP_FLIGHT_SERVING_DIR"]]
    (spec,) = [v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == volume]
    limit = parse_bytes(spec["emptyDir"]["sizeLimit"].removesuffix("i"), 0, "sizeLimit")
    assert parse_bytes(values["TTP_FLIGHT_SERVING_BYTES"], 0, "budget") < limit
