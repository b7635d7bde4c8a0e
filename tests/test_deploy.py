"""The deploy/ files, checked without a Docker engine or a cluster: what an operator relies on."""

import configparser
import importlib
import importlib.util
import re
import shlex
from pathlib import Path

import pytest
import yaml
from starlette.routing import Match

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
YAML_FILES = sorted([*DEPLOY.rglob("*.yml"), *DEPLOY.rglob("*.yaml")])
POD_OWNERS = {"Deployment", "StatefulSet", "DaemonSet", "Job"}
PROBES = ("livenessProbe", "readinessProbe", "startupProbe")


def load_all(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def compose_services() -> dict[str, dict]:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())["services"]


def k8s_docs() -> list[dict]:
    return [doc for path in sorted((DEPLOY / "k8s").glob("*.yaml")) for doc in load_all(path)]


def workloads() -> list[dict]:
    return [doc for doc in k8s_docs() if doc["kind"] in POD_OWNERS]


def containers(workload: dict) -> list[dict]:
    spec = workload["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def find(kind: str, name: str) -> dict:
    matches = [doc for doc in k8s_docs() if doc["kind"] == kind and doc["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected exactly one {kind} {name}, found {len(matches)}"
    return matches[0]


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with comments dropped and continuation lines joined."""
    joined = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in joined.splitlines()]
    return [
        (parts[0].upper(), parts[1] if len(parts) > 1 else "")
        for parts in (line.split(None, 1) for line in lines if line and not line.startswith("#"))
    ]


def as_argv(command: str | list[str]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else list(command)


def all_commands() -> list[list[str]]:
    """Every command the deploy files run: the image CMD, compose commands and healthchecks, k8s ones."""
    cmd = [args for instr, args in dockerfile_instructions() if instr == "CMD"]
    commands = [as_argv(yaml.safe_load(cmd[-1]))] if cmd else []
    for service in compose_services().values():
        commands += [
            as_argv(service.get("command", [])),
            as_argv(service.get("healthcheck", {}).get("test", [])),
        ]
    for container in (c for workload in workloads() for c in containers(workload)):
        commands.append(container.get("command", []) + container.get("args", []))
        commands += [container.get(probe, {}).get("exec", {}).get("command", []) for probe in PROBES]
    return [command for command in commands if command]


def serves_get(app, path: str) -> bool:
    """Whether the app routes `GET path` to an endpoint, matched the way its router dispatches."""
    scope = {"type": "http", "method": "GET", "path": path, "root_path": "", "headers": []}
    return any(route.matches(scope)[0] == Match.FULL for route in app.routes)


def resolve(reference: str) -> object:
    """Import `pkg.module:attr`, `pkg.module` or `pkg.module.Attr`, as uvicorn, python -m and arq do."""
    module, _, attr = reference.partition(":")
    try:
        is_module = importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # the parent is a module, not a package: the last part is an attribute
        is_module = False
    if not attr and not is_module:
        module, _, attr = module.rpartition(".")
    imported = importlib.import_module(module)
    return getattr(imported, attr) if attr else imported


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_deploy_yaml_file_parses(path: Path) -> None:
    assert load_all(path), f"{path} holds no YAML document"


def test_compose_runs_the_whole_stack() -> None:
    assert {"postgres", "redis", "migrate", "api", "worker"} <= compose_services().keys()


def test_compose_dependencies_name_real_services() -> None:
    services = compose_services()
    for name, service in services.items():
        for dependency in service.get("depends_on", []):
            assert dependency in services, f"{name} depends on unknown service {dependency}"


def test_api_and_worker_start_only_after_migrations_succeed() -> None:
    services = compose_services()
    for name in ("api", "worker"):
        condition = services[name]["depends_on"]["migrate"]["condition"]
        assert condition == "service_completed_successfully", name


def test_every_compose_service_has_an_image_or_a_buildable_dockerfile() -> None:
    for name, service in compose_services().items():
        assert "image" in service or "build" in service, f"{name} has neither image nor build"
        if "build" in service:
            build = service["build"] if isinstance(service["build"], dict) else {"context": service["build"]}
            context = (DEPLOY / build.get("context", ".")).resolve()
            dockerfile = context / build.get("dockerfile", "Dockerfile")
            assert dockerfile.is_file(), f"{name} builds from missing {dockerfile}"
            assert (context / "pyproject.toml").is_file(), f"{name}'s build context is not the repo root"


def test_commands_reference_code_that_exists() -> None:
    references = {
        token.split("=")[-1]
        for command in all_commands()
        for token in command
        if re.fullmatch(r"(\w+=)?services(\.\w+)+(:\w+)?", token)
    }
    assert "services.api.main:create_app" in references
    assert "services.kpi_engine.worker.WorkerSettings" in references
    assert "services.kpi_engine" in references
    for reference in references:
        assert resolve(reference) is not None, reference
    assert callable(resolve("services.api.main:create_app"))
    assert importlib.util.find_spec("services.kpi_engine.__main__") is not None


def test_migration_commands_find_their_config() -> None:
    assert any(command[0] == "alembic" for command in all_commands())
    config = configparser.ConfigParser(interpolation=None)
    assert config.read(ROOT / "alembic.ini"), "alembic.ini is missing at the repo root"
    script_location = config["alembic"]["script_location"].replace("%(here)s", str(ROOT))
    assert (Path(script_location) / "env.py").is_file()


def test_dockerfile_is_multi_stage_and_runs_as_non_root() -> None:
    instructions = dockerfile_instructions()
    assert len([1 for instr, _ in instructions if instr == "FROM"]) >= 2
    users = [args for instr, args in instructions if instr == "USER"]
    assert users, "the image runs as root: no USER"
    assert users[-1].split(":")[0] not in {"root", "0"}


def test_dockerfile_copies_sources_that_exist_and_what_runtime_needs() -> None:
    copies = [args.split() for instr, args in dockerfile_instructions() if instr == "COPY"]
    local = [
        [arg for arg in args if not arg.startswith("--")]
        for args in copies
        if not any(arg.startswith("--from") for arg in args)
    ]
    sources = [source for args in local for source in args[:-1]]
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
    needed = {"services", "shared", "migrations", "alembic.ini"}
    assert needed <= {source.rstrip("/") for source in sources}


def test_every_k8s_document_is_identified() -> None:
    for doc in k8s_docs():
        assert doc.get("apiVersion") and doc.get("kind") and doc.get("metadata", {}).get("name"), doc
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == "kpi", doc["metadata"]["name"]


def test_api_probes_hit_real_get_routes() -> None:
    from services.api.main import create_app

    app = create_app()
    assert not serves_get(app, "/no/such/route")
    (api,) = containers(find("Deployment", "kpi-api"))
    for probe in ("livenessProbe", "readinessProbe"):
        path = api[probe]["httpGet"]["path"]
        assert serves_get(app, path), f"{probe} hits {path}, which the app does not serve"
    assert 8000 in {port["containerPort"] for port in api["ports"]}


def test_api_service_routes_to_api_pods_only() -> None:
    service = find("Service", "kpi-api")
    selector = service["spec"]["selector"].items()
    api = find("Deployment", "kpi-api")
    pod_labels = api["spec"]["template"]["metadata"]["labels"].items()
    assert selector <= pod_labels
    assert api["spec"]["selector"]["matchLabels"].items() <= pod_labels
    for other in workloads():
        if other["metadata"]["name"] != "kpi-api":
            assert not selector <= other["spec"]["template"]["metadata"]["labels"].items(), other
    (api_container,) = containers(api)
    ports = {port[key] for port in api_container["ports"] for key in ("containerPort", "name") if key in port}
    assert {port["targetPort"] for port in service["spec"]["ports"]} <= ports


def test_env_comes_from_config_and_secrets_that_are_defined() -> None:
    defined = {(doc["kind"], doc["metadata"]["name"]) for doc in k8s_docs()}
    for workload in workloads():
        for container in containers(workload):
            assert container.get("envFrom"), f"{container['name']} gets no configuration"
            for source in container["envFrom"]:
                for key, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                    if key in source:
                        assert (kind, source[key]["name"]) in defined, source


def test_pods_run_as_non_root() -> None:
    assert workloads()
    for workload in workloads():
        pod = workload["spec"]["template"]["spec"].get("securityContext", {})
        for container in containers(workload):
            context = {**pod, **container.get("securityContext", {})}
            assert context.get("runAsNonRoot") is True, container["name"]
            assert context.get("runAsUser", 0) != 0, container["name"]
            assert context.get("allowPrivilegeEscalation") is False, container["name"]


# --- N replicas (docs/operations.md "Running N replicas") -----------------------------------------------------


def env_of(container: dict) -> dict[str, str]:
    return {item["name"]: str(item.get("value", "")) for item in container.get("env", [])}


def config_map() -> dict[str, str]:
    return {k: str(v) for k, v in find("ConfigMap", "kpi-config")["data"].items()}


@pytest.mark.parametrize("name", ["kpi-api", "kpi-worker"])
def test_api_and_worker_run_several_replicas_with_a_disruption_budget_that_lets_one_go(name: str) -> None:
    deployment = find("Deployment", name)
    replicas = deployment["spec"]["replicas"]
    assert replicas >= 2, f"{name}: one replica is a single point of failure"
    budget = find("PodDisruptionBudget", name)
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"].items()
    assert budget["spec"]["selector"]["matchLabels"].items() <= pod_labels, "the budget covers the pods"
    for other in workloads():
        if other["metadata"]["name"] != name:
            assert (
                not budget["spec"]["selector"]["matchLabels"].items()
                <= other["spec"]["template"]["metadata"]["labels"].items()
            ), other["metadata"]["name"]
    spec = budget["spec"]
    assert ("minAvailable" in spec) != ("maxUnavailable" in spec), "one of minAvailable / maxUnavailable"
    allowed = replicas - spec["minAvailable"] if "minAvailable" in spec else spec["maxUnavailable"]
    # At least one pod may go (else a node drain blocks forever), never all of them.
    assert 1 <= allowed < replicas, (name, spec)


@pytest.mark.parametrize("name", ["kpi-api", "kpi-worker"])
def test_every_replica_is_scraped_on_a_port_that_serves_its_metrics(name: str) -> None:
    deployment = find("Deployment", name)
    annotations = deployment["spec"]["template"]["metadata"].get("annotations", {})
    assert annotations.get("prometheus.io/scrape") == "true", f"{name}'s pods are not scraped"
    port, path = int(annotations["prometheus.io/port"]), annotations.get("prometheus.io/path", "/metrics")
    (container,) = containers(deployment)
    assert port in {p["containerPort"] for p in container["ports"]}, f"{name} scrapes port {port}, not declared"
    if name == "kpi-api":
        from services.api.main import create_app

        assert serves_get(create_app(), path)
    else:
        # The worker serves its registry on WORKER_METRICS_PORT (any path): the scraped port must be that one.
        assert env_of(container)["WORKER_METRICS_PORT"] == str(port)


def test_worker_probes_check_their_own_replica() -> None:
    (worker,) = containers(find("Deployment", "kpi-worker"))
    for probe in ("livenessProbe", "readinessProbe"):
        command = worker[probe]["exec"]["command"]
        assert command[:2] == ["arq", "--check"] and resolve(command[2]) is not None, (probe, command)
    # `arq --check` reads the health key WorkerSettings names; shared by every worker on the queue unless each
    # replica has its own, and then a hung replica would pass its probe as long as another one runs.
    assert env_of(worker).get("WORKER_HEALTH_KEY_PER_HOST") == "true"
    worker_service = compose_services()["worker"]
    assert str(worker_service["environment"].get("WORKER_HEALTH_KEY_PER_HOST")).lower() == "true"
    assert worker_service["healthcheck"]["test"][1:3] == ["arq", "--check"]


def test_the_per_host_health_key_names_the_host_and_the_default_stays_shared() -> None:
    import socket

    from services.kpi_engine.worker import worker_health_key
    from shared.settings import Settings

    assert worker_health_key(Settings(queue_name="q")) == "q:health-check"
    per_host = Settings(queue_name="q", worker_health_key_per_host=True)
    assert worker_health_key(per_host) == f"q:health-check:{socket.gethostname()}"


def test_compose_runs_two_apis_and_two_workers_and_exposes_worker_metrics() -> None:
    services = compose_services()
    for name in ("api", "worker"):
        assert services[name].get("deploy", {}).get("replicas", 1) >= 2, name
    # A fixed host port cannot be shared by replicas: the API publishes a range as wide as its replica count.
    replicas = services["api"]["deploy"]["replicas"]
    [published] = services["api"]["ports"]
    host, _, container = str(published).rpartition(":")
    first, _, last = host.partition("-")
    assert container == "8000" and int(last or first) - int(first) + 1 >= replicas, published
    port = services["worker"]["environment"]["WORKER_METRICS_PORT"]
    assert port in {str(p) for p in services["worker"].get("expose", [])}


def test_every_setting_the_deploy_files_pass_is_one_the_service_reads() -> None:
    from shared.settings import Settings

    known = {name.upper() for name in Settings.model_fields}
    passed = set(config_map()) | set(find("Secret", "kpi-secrets")["stringData"])
    for workload in workloads():
        for container in containers(workload):
            passed |= set(env_of(container))
    for service in compose_services().values():
        if "build" in service or service.get("image", "").startswith("kpi-service"):
            passed |= set(service.get("environment", {}))
    assert passed - known == set(), "misspelt or unknown settings"
    assert {"WORKER_MAX_JOBS", "WORKER_METRICS_PORT"} <= passed
