"""The rendered scale-out manifests (deploy/kubernetes-scale-out), made runnable by podman 4.3's
`podman play kube`, for scripts/test-deploy.sh (step 3b).

    python scale_out_for_podman.py RENDERED.yaml OUT.yaml S3_A METRICS_A S3_B METRICS_B

podman is no cluster; what it cannot do is changed here, and only that:
  - the Secret becomes a ConfigMap of the same name, content and mount path (podman 4.3 drops a
    Secret's stringData; step 3 does the same);
  - podman has no Services, so the proxies' upstream.address names the store's pod
    (`<store Deployment>-pod-0`, which podman's DNS resolves) instead of its Service;
  - podman publishes every containerPort on every host address when no hostPort is given, and one
    Deployment's replicas would all ask for the same host ports: the proxy Deployment is run as
    two Deployments of one replica (`<name>` and `<name>-b`), each with its own 127.0.0.1 ports;
    the store's port is not published at all (the proxies reach it over the pod network);
  - Service, HorizontalPodAutoscaler, PodDisruptionBudget and NetworkPolicy are left out: podman
    has no use for them (kubernetes-validate and the shape test check them).
Everything else (images, mounts, security contexts, the ConfigMaps' contents) is as rendered.
"""

import copy
import sys

import yaml

NOT_FOR_PODMAN = {"Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy"}


def main():
    src, dst = sys.argv[1], sys.argv[2]
    ports = [int(p) for p in sys.argv[3:7]]
    docs = [d for d in yaml.safe_load_all(open(src)) if d]
    store = next(d["metadata"]["name"] for d in docs
                 if d["kind"] == "Deployment" and d["metadata"]["name"].startswith("s3-auth-proxy-store"))
    out = []
    for d in docs:
        kind = d["kind"]
        if kind in NOT_FOR_PODMAN:
            continue
        if kind == "Secret":
            d.update(kind="ConfigMap", data=d.pop("stringData"))
            d.pop("type", None)
        if kind == "ConfigMap" and "proxy.toml" in d["data"]:
            toml = d["data"]["proxy.toml"]
            assert '"s3-auth-proxy-store:8081"' in toml, "upstream.address is not the store's Service"
            d["data"]["proxy.toml"] = toml.replace('"s3-auth-proxy-store:8081"', f'"{store}-pod-0:8081"')
        out.append(d)
        if kind != "Deployment":
            continue
        pod = d["spec"]["template"]["spec"]
        for v in pod["volumes"]:
            if "secret" in v:
                v["configMap"] = {"name": v.pop("secret")["secretName"]}
        if d["metadata"]["name"] == store:
            nginx = pod["containers"][0]
            named = {p["name"]: p["containerPort"] for p in nginx.pop("ports")}
            probe = nginx["readinessProbe"]["tcpSocket"]
            probe["port"] = named.get(probe["port"], probe["port"])
            continue
        d["spec"]["replicas"] = 1
        second = copy.deepcopy(d)
        second["metadata"]["name"] += "-b"
        out.append(second)
        for deployment, (s3, metrics) in ((d, ports[0:2]), (second, ports[2:4])):
            p = deployment["spec"]["template"]["spec"]["containers"][0]["ports"]
            assert [x["name"] for x in p] == ["s3", "metrics"]
            p[0].update(hostIP="127.0.0.1", hostPort=s3)
            p[1].update(hostIP="127.0.0.1", hostPort=metrics)
    yaml.safe_dump_all(out, open(dst, "w"), sort_keys=False)


if __name__ == "__main__":
    main()
