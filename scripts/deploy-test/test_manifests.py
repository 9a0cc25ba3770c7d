"""Static checks of the deployment files' shape (run by scripts/test-deploy.sh with pytest).

The Kubernetes manifests are read as kustomize renders them (RENDERED_MANIFESTS, the output of
`kubectl kustomize deploy/kubernetes`) or, without it, as the resources kustomization.yaml lists.
What is checked is what must stay true when someone edits one file and forgets another: the probes
ask the metrics port the proxy listens on, the Secret is mounted where proxy.toml looks for it,
nginx is on loopback only and the Service reaches the proxy only, every container is locked down,
the pod's grace period covers the proxy's shutdown_grace. deploy/compose.yaml and the Containerfile
get the same kind of cross-checks.
"""

import os
import re
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUBE = DEPLOY / "kubernetes"


# --- helpers ---------------------------------------------------------------------------------------


def load_kube_docs():
    rendered = os.environ.get("RENDERED_MANIFESTS")
    if rendered:
        text = Path(rendered).read_text()
    else:
        kustomization = yaml.safe_load((KUBE / "kustomization.yaml").read_text())
        text = "\n---\n".join((KUBE / r).read_text() for r in kustomization["resources"])
    return [d for d in yaml.safe_load_all(text) if d]


DOCS = load_kube_docs()


def one(kind, name_prefix=""):
    found = [d for d in DOCS if d["kind"] == kind and d["metadata"]["name"].startswith(name_prefix)]
    assert len(found) == 1, f"expected one {kind} {name_prefix!r}, found {len(found)}"
    return found[0]


def duration_seconds(text):
    m = re.fullmatch(r"(\d+)(ms|s|m|h|d)?", str(text).strip())
    assert m, f"not a duration: {text!r}"
    n, unit = int(m.group(1)), m.group(2) or "s"
    return n * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}[unit]


def port_of(addr):
    return int(addr.rsplit(":", 1)[1])


def nginx_directives(conf, name):
    """Values of every `name ...;` directive in an nginx config (comments removed)."""
    conf = re.sub(r"#[^\n]*", "", conf)
    return [m.group(1).strip() for m in re.finditer(rf"(?:^|[;{{}}\s]){name}\s+([^;]+);", conf)]


DEPLOYMENT = one("Deployment")
POD = DEPLOYMENT["spec"]["template"]["spec"]
CONTAINERS = {c["name"]: c for c in POD["containers"]}
PROXY = CONTAINERS.get("proxy")
NGINX = CONTAINERS.get("nginx")
VOLUMES = {v["name"]: v for v in POD["volumes"]}


def config_map_with(key):
    found = [d for d in DOCS if d["kind"] == "ConfigMap" and key in d.get("data", {})]
    assert len(found) == 1, f"expected one ConfigMap with {key}"
    return found[0]


PROXY_CM = config_map_with("proxy.toml")
PROXY_TOML = tomllib.loads(PROXY_CM["data"]["proxy.toml"])
NGINX_CM = config_map_with("nginx.conf")
NGINX_CONF = NGINX_CM["data"]["nginx.conf"]


def mount_of(container, volume_source_kind, name):
    """The mountPath of the volume (of the given source kind) that refers to `name`."""
    paths = []
    for m in container.get("volumeMounts", []):
        src = VOLUMES[m["name"]]
        ref = src.get(volume_source_kind)
        if ref and (ref.get("name") == name or ref.get("secretName") == name):
            paths.append(m)
    assert len(paths) == 1, f"{container['name']}: expected one mount of {volume_source_kind} {name}"
    return paths[0]


def named_port(container, port):
    if isinstance(port, int):
        return port
    for p in container.get("ports", []):
        if p.get("name") == port:
            return p["containerPort"]
    raise AssertionError(f"{container['name']} has no port named {port!r}")


# --- Kubernetes --------------------------------------------------------------------------------------


def test_pod_has_the_proxy_and_nginx_only():
    assert set(CONTAINERS) == {"proxy", "nginx"}


def test_probes_ask_the_metrics_port_with_the_right_paths():
    metrics = port_of(PROXY_TOML["server"]["metrics_listen"])
    live, ready = PROXY["livenessProbe"]["httpGet"], PROXY["readinessProbe"]["httpGet"]
    assert live["path"] == "/healthz"
    assert ready["path"] == "/readyz"
    assert named_port(PROXY, live["port"]) == metrics
    assert named_port(PROXY, ready["port"]) == metrics
    # the metrics port must be reachable from the kubelet: not a loopback listener
    assert PROXY_TOML["server"]["metrics_listen"].startswith(("0.0.0.0:", "[::]:"))
    # readiness covers the sidecar backend too
    assert PROXY_TOML["upstream"].get("readiness_probe") is True
    annotations = DEPLOYMENT["spec"]["template"]["metadata"].get("annotations", {})
    if "prometheus.io/port" in annotations:
        assert int(annotations["prometheus.io/port"]) == metrics


def test_proxy_reads_the_config_map_it_is_given():
    args = PROXY.get("args", [])
    config_path = Path(args[args.index("--config") + 1]) if "--config" in args else Path(
        "/etc/s3-auth-proxy/proxy.toml"
    )
    m = mount_of(PROXY, "configMap", PROXY_CM["metadata"]["name"])
    assert Path(m["mountPath"]) == config_path.parent
    assert "subPath" not in m
    assert config_path.name == "proxy.toml"


def test_secret_is_mounted_where_proxy_toml_looks_for_it():
    secrets_file = Path(PROXY_TOML["auth"]["secrets_file"])
    assert secrets_file.is_absolute()
    secret_vols = [v for v in VOLUMES.values() if "secret" in v]
    assert len(secret_vols) == 1
    secret_name = secret_vols[0]["secret"]["secretName"]
    m = mount_of(PROXY, "secret", secret_name)
    assert Path(m["mountPath"]) == secrets_file.parent
    assert m.get("readOnly") is True
    # a directory mount (no subPath): the kubelet's ..data symlink swap reaches the proxy
    assert "subPath" not in m
    assert "items" not in secret_vols[0]["secret"]
    secret = one("Secret")
    assert secret["metadata"]["name"] == secret_name
    data = secret.get("stringData", {})
    assert secrets_file.name in data
    creds = tomllib.loads(data[secrets_file.name])["credentials"]
    assert creds and all(c["access_key"] and c["secret_key"] for c in creds)
    # only the proxy sees the credentials
    assert all(
        VOLUMES[m["name"]].get("secret") is None for m in NGINX.get("volumeMounts", [])
    )


@pytest.mark.parametrize("name", ["proxy", "nginx"])
def test_containers_are_locked_down(name):
    c = CONTAINERS[name]
    sc = c["securityContext"]
    assert sc["runAsNonRoot"] is True
    assert isinstance(sc["runAsUser"], int) and sc["runAsUser"] > 0
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc.get("privileged", False) is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert not sc["capabilities"].get("add")
    seccomp = sc.get("seccompProfile") or POD["securityContext"]["seccompProfile"]
    assert seccomp["type"] == "RuntimeDefault"
    res = c["resources"]
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(res[kind]), f"{name}: resources.{kind}"


def test_pod_level_hardening():
    assert POD["securityContext"]["runAsNonRoot"] is True
    assert POD.get("automountServiceAccountToken") is False
    assert not POD.get("hostNetwork")


def test_proxy_runs_as_the_image_user():
    assert PROXY["securityContext"]["runAsUser"] == 65532


def test_nginx_listens_on_loopback_only_and_is_the_upstream():
    listens = nginx_directives(NGINX_CONF, "listen")
    assert listens, "nginx.conf has no listen directive"
    for listen in listens:
        addr = listen.split()[0]
        assert addr.startswith("127.0.0.1:"), f"nginx listens on {addr}"
    nginx_ports = {port_of(listen.split()[0]) for listen in listens}
    upstream = PROXY_TOML["upstream"]["address"]
    assert upstream.startswith("127.0.0.1:")
    assert port_of(upstream) in nginx_ports
    assert PROXY_TOML["upstream"]["kind"] == "http"
    # nginx declares no container port: nothing should try to reach it from outside the pod
    assert not NGINX.get("ports")
    # and nginx reads the ConfigMap it is given
    cmd = NGINX["command"] + NGINX.get("args", [])
    conf_path = Path(cmd[cmd.index("-c") + 1])
    m = mount_of(NGINX, "configMap", NGINX_CM["metadata"]["name"])
    assert Path(m["mountPath"]) == conf_path.parent and conf_path.name == "nginx.conf"


def test_nginx_writes_only_to_volumes():
    """With a read-only root filesystem, every path nginx writes must be on a volume."""
    writable = [
        Path(m["mountPath"]) for m in NGINX["volumeMounts"] if not m.get("readOnly")
    ]
    paths = nginx_directives(NGINX_CONF, "pid") + nginx_directives(NGINX_CONF, "root")
    for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        paths += nginx_directives(NGINX_CONF, f"{d}_temp_path")
    assert len(paths) == 7, paths
    for p in paths:
        p = Path(p.split()[0])
        assert any(p == w or w in p.parents for w in writable), f"nginx writes {p}, not on a volume"
    for e in nginx_directives(NGINX_CONF, "error_log"):
        assert e.split()[0] == "stderr"
    # the upload temp files and the objects on one filesystem: a finished PUT is a rename
    root = Path(nginx_directives(NGINX_CONF, "root")[0])
    body_tmp = Path(nginx_directives(NGINX_CONF, "client_body_temp_path")[0].split()[0])
    mounts = [w for w in writable if w in root.parents]
    assert mounts and mounts[0] in body_tmp.parents
    assert root not in body_tmp.parents, "upload temp files must not be reachable as objects"


def test_service_targets_only_the_proxy_port():
    svc = one("Service")
    assert svc["spec"].get("type", "ClusterIP") == "ClusterIP"
    pod_labels = DEPLOYMENT["spec"]["template"]["metadata"]["labels"]
    assert svc["spec"]["selector"]
    assert all(pod_labels.get(k) == v for k, v in svc["spec"]["selector"].items())
    listen = port_of(PROXY_TOML["server"]["listen"])
    ports = svc["spec"]["ports"]
    assert len(ports) == 1
    assert named_port(PROXY, ports[0]["targetPort"]) == listen


def test_grace_period_covers_shutdown_grace():
    grace = duration_seconds(PROXY_TOML["server"]["shutdown_grace"])
    assert POD["terminationGracePeriodSeconds"] >= grace + 1


def test_storage_fits_one_writer():
    assert DEPLOYMENT["spec"]["replicas"] == 1
    assert DEPLOYMENT["spec"]["strategy"]["type"] == "Recreate"
    claim = VOLUMES["data"]["persistentVolumeClaim"]["claimName"]
    pvc = one("PersistentVolumeClaim")
    assert pvc["metadata"]["name"] == claim
    assert pvc["spec"]["accessModes"] == ["ReadWriteOnce"]


# --- compose -----------------------------------------------------------------------------------------

COMPOSE = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
CONTAINER_TOML = tomllib.loads((DEPLOY / "proxy.container.toml").read_text())
COMPOSE_NGINX_CONF = (DEPLOY / "nginx" / "compose-nginx.conf").read_text()


BALANCER_CONF = (DEPLOY / "nginx" / "balancer.conf").read_text()


def compose_default(value):
    """The default of a `${VAR:-default}` value (the value itself when it is none)."""
    m = re.fullmatch(r"\$\{[A-Z_]+:-([^}]*)\}", str(value))
    return m.group(1) if m else value


def test_compose_publishes_the_balancer_on_loopback_only():
    services = COMPOSE["services"]
    for name, svc in services.items():
        for p in svc.get("ports", []):
            assert isinstance(p, str) and p.startswith("127.0.0.1:"), f"{name} publishes {p}"
    assert "ports" not in services["nginx"]
    # replicas cannot share a host port: the balancer is the one address
    assert "ports" not in services["proxy"]
    assert services["balancer"]["ports"] == ["127.0.0.1:${PROXY_PORT:-8080}:8080"]
    assert [int(x) for x in nginx_directives(BALANCER_CONF, "listen")] == [8080]
    assert port_of(CONTAINER_TOML["server"]["listen"]) == 8080


def test_compose_runs_two_proxy_replicas_behind_the_balancer():
    services = COMPOSE["services"]
    deploy = services["proxy"]["deploy"]
    # podman-compose reads `replicas` only with mode: replicated; docker compose's default
    assert deploy["mode"] == "replicated"
    assert int(compose_default(deploy["replicas"])) == 2
    assert "container_name" not in services["proxy"]  # one name cannot be given to two
    balancer = services["balancer"]
    assert balancer["networks"] == ["frontend"], "the balancer must not reach nginx, the store"
    assert "frontend" in services["proxy"]["networks"]
    assert "proxy" in balancer["depends_on"]
    # nginx's graceful stop (SIGTERM would cut uploads in flight), within the proxy's grace
    assert balancer["stop_signal"] == "SIGQUIT"
    assert duration_seconds(balancer["stop_grace_period"]) >= duration_seconds(
        services["proxy"]["stop_grace_period"]
    )
    assert "./nginx/balancer.conf:/etc/nginx/nginx.conf:ro" in balancer["volumes"]


def test_balancer_passes_requests_unchanged_and_unbuffered():
    conf = re.sub(r"#[^\n]*", "", BALANCER_CONF)
    upstreams = re.findall(r"upstream\s+(\S+)\s*\{([^}]*)\}", conf)
    assert len(upstreams) == 1
    name, block = upstreams[0]
    servers = nginx_directives(block, "server")
    assert len(servers) == 1
    host, port = servers[0].split()[0].rsplit(":", 1)
    assert host == "proxy", "the compose service whose DNS name lists every replica"
    assert int(port) == port_of(CONTAINER_TOML["server"]["listen"])
    # no URI part: the request target goes on as the client sent (and signed) it
    assert nginx_directives(conf, "proxy_pass") == [f"http://{name}"]
    headers = [h.split(None, 1) for h in nginx_directives(conf, "proxy_set_header")]
    assert ["Host", "$http_host"] in headers, "the Host the client signed"
    assert [h for h in headers if h[0].lower() not in ("host", "connection")] == []
    for directive, value in [
        ("proxy_request_buffering", "off"),
        ("proxy_buffering", "off"),
        ("client_max_body_size", "0"),
        ("proxy_http_version", "1.1"),
    ]:
        assert nginx_directives(conf, directive) == [value], directive
    # never replay a request a replica may have acted on (non_idempotent), nor on its answer
    (retry,) = nginx_directives(conf, "proxy_next_upstream")
    assert set(retry.split()) <= {"error", "timeout"}
    # read-only root: everything it writes is under the /tmp tmpfs
    assert "/tmp" in COMPOSE["services"]["balancer"]["tmpfs"]
    paths = nginx_directives(conf, "pid")
    for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        paths += nginx_directives(conf, f"{d}_temp_path")
    assert len(paths) == 6 and all(p.startswith("/tmp/") for p in paths), paths


def test_compose_nginx_is_on_the_internal_network_only():
    nginx = COMPOSE["services"]["nginx"]
    assert nginx["networks"] == ["backend"]
    assert COMPOSE["networks"]["backend"]["internal"] is True
    assert "backend" in COMPOSE["services"]["proxy"]["networks"]
    host, port = CONTAINER_TOML["upstream"]["address"].rsplit(":", 1)
    assert host == "nginx"
    assert CONTAINER_TOML["upstream"].get("readiness_probe") is True
    assert "--ready" in COMPOSE["services"]["proxy"]["healthcheck"]["test"]
    assert [int(x) for x in nginx_directives(COMPOSE_NGINX_CONF, "listen")] == [int(port)]


def test_compose_secret_lands_where_the_config_looks():
    proxy = COMPOSE["services"]["proxy"]
    (secret,) = proxy["secrets"]
    assert secret["target"] == CONTAINER_TOML["auth"]["secrets_file"]
    assert (DEPLOY / compose_default(COMPOSE["secrets"][secret["source"]]["file"])).is_file()
    assert "./proxy.container.toml:/etc/s3-auth-proxy/proxy.toml:ro" in proxy["volumes"]


def test_compose_services_are_locked_down():
    for name in ("proxy", "nginx", "balancer"):
        svc = COMPOSE["services"][name]
        assert svc["read_only"] is True
        assert svc["cap_drop"] == ["ALL"]
        assert "no-new-privileges:true" in svc["security_opt"]
        assert not str(svc["user"]).startswith("0")
    assert duration_seconds(COMPOSE["services"]["proxy"]["stop_grace_period"]) >= duration_seconds(
        CONTAINER_TOML["server"]["shutdown_grace"]
    ) + 1


# --- the Containerfile ---------------------------------------------------------------------------------


def test_containerfile_runtime_targets_share_one_base():
    text = (DEPLOY / "Containerfile").read_text()
    stages = re.findall(r"^FROM\s+(\S+)\s+AS\s+(\S+)", text, re.M)
    parents = dict((name, parent) for parent, name in stages)
    assert parents["runtime"] == "runtime-base" and parents["runtime-prebuilt"] == "runtime-base"
    assert parents["runtime-base"] == "scratch"
    assert stages[-1][1] == "runtime", "the default target (last stage) compiles from source"
    assert 'ENTRYPOINT ["/usr/local/bin/s3-auth-proxy"]' in text
    assert 'CMD ["--config", "/etc/s3-auth-proxy/proxy.toml"]' in text
    assert re.search(r"^USER 65532:65532$", text, re.M)
    assert "cargo build --release --locked" in text
