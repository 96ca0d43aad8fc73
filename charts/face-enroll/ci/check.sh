#!/usr/bin/env bash
# Checks the chart: lint, render with default and with every optional part on,
# validate against the Kubernetes schemas, refuse misspelled values, check the
# alert expressions with promtool, and have the binary accept the rendered
# settings. Usage: charts/face-enroll/ci/check.sh HELM BINARY
set -euo pipefail
helm=$1
binary=$2
chart=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$helm" lint --strict "$chart"

for name in default all-on hpa rrsa none; do
  values=()
  [ "$name" = default ] || values=(-f "$chart/ci/$name-values.yaml")
  "$helm" template ci "$chart" "${values[@]}" > "$out/$name.yaml"
  kubernetes-validate --strict --quiet "$out/$name.yaml"
  echo "rendered and valid: $name ($(grep -c '^kind:' "$out/$name.yaml") objects: $(grep '^kind:' "$out/$name.yaml" | cut -d' ' -f2 | sort | tr '\n' ' '))"
done

# Replicas are the autoscaler's once it is on.
grep -q '^  replicas: 2$' "$out/default.yaml"
! grep -q '^  replicas:' "$out/all-on.yaml"

# A misspelled or out-of-range value fails the schema.
for bad in cloudauth.tenantQPS=10 replicaCount=-1 autoscaling.kind=vpa amqp.queueType=lazy credentials.mode=oidc credentials.mode=rrsa; do
  if "$helm" template ci "$chart" --set "$bad" > /dev/null 2>&1; then
    echo "the schema accepted --set $bad"; exit 1
  fi
done
echo "the schema refuses misspelled and out-of-range values"

python3 - "$out" <<'PY'
import sys, yaml
out = sys.argv[1]
docs = [d for d in yaml.safe_load_all(open(f"{out}/all-on.yaml")) if d]
rule = next(d for d in docs if d["kind"] == "PrometheusRule")
yaml.safe_dump({"groups": rule["spec"]["groups"]}, open(f"{out}/rules.yaml", "w"))
for name in ("default", "all-on"):
    docs = [d for d in yaml.safe_load_all(open(f"{out}/{name}.yaml")) if d]
    config = next(d for d in docs if d["kind"] == "ConfigMap" and "face-enroll.toml" in d["data"])
    open(f"{out}/{name}.toml", "w").write(config["data"]["face-enroll.toml"])
    deploy = next(d for d in docs if d["kind"] == "Deployment")
    pod = deploy["spec"]["template"]["spec"]
    c = pod["containers"][0]
    assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert c["securityContext"]["readOnlyRootFilesystem"] and not c["securityContext"]["allowPrivilegeEscalation"]
    assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz" and c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert pod["terminationGracePeriodSeconds"] > 30
    assert c["resources"]["requests"] and c["resources"]["limits"]
def env_names(name):
    docs = [d for d in yaml.safe_load_all(open(f"{out}/{name}.yaml")) if d]
    deploy = next(d for d in docs if d["kind"] == "Deployment")
    pod = deploy["spec"]["template"]["spec"]
    return docs, pod, {e["name"] for e in pod["containers"][0]["env"]}
# RRSA: the three variables, the projected token, the role on the service account, no AccessKey.
docs, pod, env = env_names("rrsa")
assert {"ALIBABA_CLOUD_ROLE_ARN", "ALIBABA_CLOUD_OIDC_PROVIDER_ARN", "ALIBABA_CLOUD_OIDC_TOKEN_FILE"} <= env, env
assert not any(n.startswith("ALIBABA_CLOUD_ACCESS_KEY") for n in env), env
token = next(v for v in pod["volumes"] if v["name"] == "rrsa-oidc-token")
assert token["projected"]["sources"][0]["serviceAccountToken"]["audience"] == "sts.aliyuncs.com"
sa = next(d for d in docs if d["kind"] == "ServiceAccount")
assert sa["metadata"]["annotations"]["pod-identity.alibabacloud.com/role-name"] == "face-enroll"
assert not any(d["kind"] == "Secret" for d in docs), "the broker URL comes from the existing Secret"
# TLS to the broker: the Secret mounted where the settings say.
docs, pod, env = env_names("all-on")
tls = next(v for v in pod["volumes"] if v["name"] == "amqp-tls")
assert tls["secret"]["secretName"] == "rabbitmq-client-tls"
toml = open(f"{out}/all-on.toml").read()
for key, file in (("tls_ca_file", "ca.crt"), ("tls_cert_file", "tls.crt"), ("tls_key_file", "tls.key")):
    assert f'{key} = "/etc/face-enroll/amqp-tls/{file}"' in toml, toml
assert "tls_ca_file" not in open(f"{out}/default.toml").read()
# None (an ECS node's RAM role): no credentials from the chart.
docs, pod, env = env_names("none")
assert not any(n.startswith("ALIBABA_CLOUD_") for n in env), env
print("credentials modes: accessKey, rrsa and none render as documented")
PY
promtool check rules "$out/rules.yaml"

# The binary accepts the rendered settings (exit 2 would mean it refused them).
for name in default all-on; do
  # The broker URL comes from the Secret; TLS settings go with amqps:// only.
  url=amqp://127.0.0.1:1/%2f
  if grep -q '^tls_ca_file' "$out/$name.toml"; then url=amqps://127.0.0.1:1/%2f; fi
  set +e
  # No metadata service is asked: the chain stops before it on this machine.
  result=$(ALIBABA_CLOUD_ECS_METADATA_DISABLED=true FACE_ENROLL_AMQP__URL=$url "$binary" check --config "$out/$name.toml" 2>&1)
  code=$?
  set -e
  if [ "$code" = 2 ] || ! grep -q '^ok   settings' <<<"$result"; then
    echo "the binary refused the $name settings: $result"; exit 1
  fi
done
echo "the binary accepts the rendered settings"
