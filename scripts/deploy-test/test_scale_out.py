"""Static checks of the scale-out layout, deploy/kubernetes-scale-out (run by scripts/test-deploy.sh
with pytest, beside test_manifests.py).

The manifests are read as kustomize renders them (RENDERED_SCALE_OUT, the output of
`kubectl kustomize deploy/kubernetes-scale-out`; without it, the kubectl beside this Python, as
.venv-deploy has). What is checked is what must hold together across files: the Services select
the pods they should and only those, the proxies' upstream is the store's Service port, only the
proxies may reach the store, the autoscaler scales the proxy Deployment on CPU that the proxy
requests, both proxies mount the one Secret, and the two files that replace the base's differ
from it only where they must.
"""

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "deploy" / "kubernetes"
OVERLAY = ROOT / "deploy" / "kubernetes-scale-out"


def render():
    rendered = os.environ.get("RENDERED_SCALE_OUT")
    if rendered:
        return Path(rendered).read_text()
    kubectl = Path(sys.executable).parent / "kubectl"
    if not kubectl.exists():
        pytest.skip("no RENDERED_SCALE_OUT and no kubectl to render deploy/kubernetes-scale-out")
    return subprocess.run([kubectl, "kustomize", OVERLAY], check=True, capture_output=True,
                          text=True).stdout


DOCS = [d for d in yaml.safe_load_all(render()) if d]


def one(kind, name):
    found = [d for d in DOCS if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def selects(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def port_of(addr):
    return int(addr.rsplit(":", 1)[1])


def without_comments(text):
    return [line for line in (re.sub(r"#.*", "", x).rstrip() for x in text.splitlines()) if line]


PROXY = one("Deployment", "s3-auth-proxy")
STORE = one("Deployment", "s3-auth-proxy-store")
PROXY_POD, STORE_POD = PROXY["spec"]["template"], STORE["spec"]["template"]
PROXY_LABELS, STORE_LABELS = PROXY_POD["metadata"]["labels"], STORE_POD["metadata"]["labels"]
PROXY_TOML = tomllib.loads(one("ConfigMap", "s3-auth-proxy-config")["data"]["proxy.toml"])
NGINX_CONF = one("ConfigMap", "s3-auth-proxy-nginx")["data"]["nginx.conf"]
BASE_PROXY_TOML = tomllib.loads(
    yaml.safe_load((BASE / "configmap-proxy.yaml").read_text())["data"]["proxy.toml"])
BASE_NGINX_CONF = yaml.safe_load((BASE / "configmap-nginx.yaml").read_text())["data"]["nginx.conf"]


def containers(pod):
    return {c["name"]: c for c in pod["spec"]["containers"]}


def test_the_proxy_runs_alone_in_its_pods_two_replicas_rolling():
    assert set(containers(PROXY_POD)) == {"proxy"}
    assert PROXY["spec"]["replicas"] == 2
    strategy = PROXY["spec"]["strategy"]
    assert strategy["type"] == "RollingUpdate"
    assert strategy["rollingUpdate"]["maxUnavailable"] == 0
    # nothing of the store is left in the proxy pods: no PVC, no nginx volumes
    assert {v["name"] for v in PROXY_POD["spec"]["volumes"]} == {"config", "credentials"}
    assert selects(PROXY["spec"]["selector"]["matchLabels"], PROXY_LABELS)


def test_every_proxy_mounts_the_one_secret_where_proxy_toml_reads_it():
    (secret_vol,) = [v for v in PROXY_POD["spec"]["volumes"] if "secret" in v]
    secret = one("Secret", secret_vol["secret"]["secretName"])
    (mount,) = [m for m in containers(PROXY_POD)["proxy"]["volumeMounts"]
                if m["name"] == secret_vol["name"]]
    secrets_file = Path(PROXY_TOML["auth"]["secrets_file"])
    assert Path(mount["mountPath"]) == secrets_file.parent and "subPath" not in mount
    assert secrets_file.name in secret["stringData"]


def test_the_store_is_one_nginx_on_the_claim_replaced_by_recreate():
    assert set(containers(STORE_POD)) == {"nginx"}
    assert STORE["spec"]["replicas"] == 1
    assert STORE["spec"]["strategy"]["type"] == "Recreate"
    (claim,) = [v["persistentVolumeClaim"]["claimName"] for v in STORE_POD["spec"]["volumes"]
                if "persistentVolumeClaim" in v]
    pvc = one("PersistentVolumeClaim", claim)
    assert pvc["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert selects(STORE["spec"]["selector"]["matchLabels"], STORE_LABELS)


def test_services_select_their_own_pods_only():
    proxy_svc = one("Service", "s3-auth-proxy")["spec"]["selector"]
    store_svc = one("Service", "s3-auth-proxy-store")["spec"]["selector"]
    assert selects(proxy_svc, PROXY_LABELS) and not selects(proxy_svc, STORE_LABELS)
    assert selects(store_svc, STORE_LABELS) and not selects(store_svc, PROXY_LABELS)
    # neither Deployment would adopt the other's pods
    assert not selects(PROXY["spec"]["selector"]["matchLabels"], STORE_LABELS)
    assert not selects(STORE["spec"]["selector"]["matchLabels"], PROXY_LABELS)


def test_the_proxies_upstream_is_the_store_service_and_nginx_listens_there():
    host, port = PROXY_TOML["upstream"]["address"].rsplit(":", 1)
    svc = one("Service", host)
    (svc_port,) = [p for p in svc["spec"]["ports"] if p["port"] == int(port)]
    nginx = containers(STORE_POD)["nginx"]
    named = {p["name"]: p["containerPort"] for p in nginx["ports"]}
    target = named.get(svc_port["targetPort"], svc_port["targetPort"])
    listens = [x.split()[0] for x in re.findall(r"^\s*listen\s+([^;]+);", NGINX_CONF, re.M)]
    assert listens == [str(target)], "nginx must listen on the pod's address at the target port"
    assert nginx["readinessProbe"]["tcpSocket"]["port"] in (target, "webdav")


def test_only_the_proxies_may_reach_the_store():
    policy = one("NetworkPolicy", "s3-auth-proxy-store")["spec"]
    assert selects(policy["podSelector"]["matchLabels"], STORE_LABELS)
    assert policy["policyTypes"] == ["Ingress"]
    (rule,) = policy["ingress"]
    (source,) = rule["from"]
    assert set(source) == {"podSelector"}, "pods of this namespace only"
    assert selects(source["podSelector"]["matchLabels"], PROXY_LABELS)
    assert not selects(source["podSelector"]["matchLabels"], STORE_LABELS)
    (port,) = rule["ports"]
    named = {p["name"]: p["containerPort"] for p in containers(STORE_POD)["nginx"]["ports"]}
    assert named.get(port["port"], port["port"]) == port_of(PROXY_TOML["upstream"]["address"])


def test_the_autoscaler_scales_the_proxies_on_the_cpu_they_request():
    hpa = one("HorizontalPodAutoscaler", "s3-auth-proxy")
    assert hpa["apiVersion"] == "autoscaling/v2"
    spec = hpa["spec"]
    ref = spec["scaleTargetRef"]
    assert (ref["apiVersion"], ref["kind"], ref["name"]) == ("apps/v1", "Deployment", "s3-auth-proxy")
    assert spec["minReplicas"] == PROXY["spec"]["replicas"] == 2
    assert spec["maxReplicas"] > spec["minReplicas"]
    (metric,) = spec["metrics"]
    assert metric["type"] == "Resource" and metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"]["type"] == "Utilization"
    assert 0 < metric["resource"]["target"]["averageUtilization"] <= 100
    # utilization is measured against requests: without one the autoscaler cannot act
    assert containers(PROXY_POD)["proxy"]["resources"]["requests"]["cpu"]
    pdb = one("PodDisruptionBudget", "s3-auth-proxy")["spec"]
    assert selects(pdb["selector"]["matchLabels"], PROXY_LABELS)
    assert 0 < pdb["minAvailable"] < spec["minReplicas"]


def test_proxy_toml_differs_from_the_sidecars_in_the_upstream_only():
    mine, base = dict(PROXY_TOML), dict(BASE_PROXY_TOML)
    up, base_up = dict(mine.pop("upstream")), dict(base.pop("upstream"))
    assert mine == base
    assert up.pop("address") != base_up.pop("address")
    assert up.pop("readiness_probe") is False  # a store outage must not empty the Service
    base_up.pop("readiness_probe")
    assert up == base_up


def test_nginx_conf_differs_from_the_sidecars_in_listen_only():
    def rest(text):
        return [x for x in without_comments(text) if not x.strip().startswith("listen ")]

    assert rest(NGINX_CONF) == rest(BASE_NGINX_CONF)


@pytest.mark.parametrize("pod", ["proxy", "store"])
def test_pods_are_locked_down(pod):
    spec = (PROXY_POD if pod == "proxy" else STORE_POD)["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec.get("automountServiceAccountToken") is False
    for c in spec["containers"]:
        sc = c["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"]["drop"] == ["ALL"]
        assert {"cpu", "memory"} <= set(c["resources"]["requests"])
