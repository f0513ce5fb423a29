"""The unmodified azure-mgmt-containerservice client against wid, with its default
api-version and its long-running-operation pollers; and the seeds' `az aks` lines with
`az` replaced by `wid`."""

import json
import os
import stat

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.containerservice.models import (
    ManagedCluster,
    ManagedClusterAgentPoolProfile,
    ManagedClusterIdentity,
    ManagedClusterOIDCIssuerProfile,
    ManagedClusterProperties,
    ManagedClusterSecurityProfile,
    ManagedClusterSecurityProfileWorkloadIdentity,
    TagsObject,
)

from widtest import unique

KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
- name: {name}
  cluster:
    server: https://127.0.0.1:6443
contexts:
- name: {name}
  context:
    cluster: {name}
    user: clusterUser_{name}
current-context: {name}
users:
- name: clusterUser_{name}
  user:
    token: {token}
"""


@pytest.fixture
def client(wid, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", wid.ca)
    monkeypatch.setenv("SSL_CERT_FILE", wid.ca)
    # Default settings: no api_version, polling as the SDK does it.
    return wid.mgmt_client(ContainerServiceClient, wid.subscription)


@pytest.fixture
def group(wid):
    name = unique("rg-aks-")
    wid.cli("group", "create", "--name", name, "--location", "eastus")
    return name


def published_kids(wid, issuer: str) -> list[str]:
    s = wid.session()
    config = s.get(f"{issuer}.well-known/openid-configuration", timeout=10).json()
    return [k["kid"] for k in s.get(config["jwks_uri"], timeout=10).json()["keys"]]


def without_times(cluster) -> dict:
    """A cluster as a dict, less when it was last written."""
    d = cluster.as_dict()
    d["systemData"].pop("lastModifiedAt")
    return d


def test_cluster_lifecycle_with_the_sdk_pollers(client, group, wid, tmp_path):
    clusters = client.managed_clusters
    wanted = ManagedCluster(
        location="eastus",
        identity=ManagedClusterIdentity(type="SystemAssigned"),
        properties=ManagedClusterProperties(
            dns_prefix="sdk-aks",
            agent_pool_profiles=[ManagedClusterAgentPoolProfile(name="nodepool1", count=1, vm_size="Standard_D2s_v5", mode="System", os_type="Linux")],
            oidc_issuer_profile=ManagedClusterOIDCIssuerProfile(enabled=True),
            security_profile=ManagedClusterSecurityProfile(workload_identity=ManagedClusterSecurityProfileWorkloadIdentity(enabled=True)),
        ),
    )
    created = clusters.begin_create_or_update(group, "sdk-aks", wanted).result()
    p = created.properties
    assert p.provisioning_state == "Succeeded"
    assert p.power_state.code == "Running"
    assert [(a.name, a.count, a.vm_size) for a in p.agent_pool_profiles] == [("nodepool1", 1, "Standard_D2s_v5")]
    assert p.oidc_issuer_profile.enabled and p.oidc_issuer_profile.issuer_url.startswith(wid.url)
    assert p.security_profile.workload_identity.enabled is True
    assert created.identity.principal_id and created.identity.tenant_id == wid.creds["tenantId"]
    kubelet = p.identity_profile["kubeletidentity"]
    assert kubelet.client_id and kubelet.object_id and kubelet.resource_id.endswith("/sdk-aks-agentpool")
    assert p.network_profile.network_plugin == "azure" and p.fqdn.startswith("sdk-aks-")

    got = clusters.get(group, "sdk-aks")
    assert got.as_dict() == created.as_dict()
    # What the SDK read, written back unchanged: nothing changes, identities included.
    again = clusters.begin_create_or_update(group, "sdk-aks", got).result()
    assert without_times(again) == without_times(got)

    tagged = clusters.begin_update_tags(group, "sdk-aks", TagsObject(tags={"env": "e2e"})).result()
    assert tagged.tags == {"env": "e2e"}
    assert clusters.get(group, "sdk-aks").tags == {"env": "e2e"}
    assert tagged.properties.as_dict() == got.properties.as_dict()

    issuer = p.oidc_issuer_profile.issuer_url
    before = published_kids(wid, issuer)
    assert clusters.begin_rotate_service_account_signing_keys(group, "sdk-aks").result() is None
    after = published_kids(wid, issuer)
    assert set(before) < set(after) and len(after) == len(before) + 1, (before, after)

    with pytest.raises(HttpResponseError) as excinfo:
        clusters.list_cluster_user_credentials(group, "sdk-aks")
    assert excinfo.value.status_code == 409
    assert excinfo.value.error.code == "OperationNotAllowed"
    assert "--attach-kubeconfig" in excinfo.value.error.message

    token = unique("kube-token-")
    kubeconfig = tmp_path / "attached.yaml"
    kubeconfig.write_text(KUBECONFIG.format(name="sdk-aks", token=token))
    wid.cli("aks", "update", "-g", group, "-n", "sdk-aks", "--attach-kubeconfig", str(kubeconfig))
    user = clusters.list_cluster_user_credentials(group, "sdk-aks")
    assert [k.name for k in user.kubeconfigs] == ["clusterUser"]
    assert user.kubeconfigs[0].value.decode() == kubeconfig.read_text()
    admin = clusters.list_cluster_admin_credentials(group, "sdk-aks")
    assert admin.kubeconfigs[0].name == "clusterAdmin"
    assert token not in json.dumps(clusters.get(group, "sdk-aks").as_dict())

    assert clusters.begin_delete(group, "sdk-aks").result() is None
    with pytest.raises(ResourceNotFoundError) as excinfo:
        clusters.get(group, "sdk-aks")
    assert excinfo.value.error.code == "ResourceNotFound"


def test_seed_aks_lines_with_wid(wid, tmp_path):
    """Every `az aks` line of the seeds, `az` replaced by `wid`, in a home of its own."""
    home = tmp_path / "home"
    home.mkdir()
    suffix = unique("")
    kubeconfig = tmp_path / "api-server.yaml"
    kubeconfig.write_text(KUBECONFIG.format(name="myAKSCluster", token=unique("t-")))
    out = wid.bash(
        f"""
export HOME="{home}"
unset KUBECONFIG
export RESOURCE_GROUP="myResourceGroup{suffix}"
export CLUSTER_NAME="myAKSCluster{suffix}"
export AKSCLUSTER="aks{suffix}"
wid group create --name "${{RESOURCE_GROUP}}" --location eastus >/dev/null
wid aks create -g "${{RESOURCE_GROUP}}" -n myAKSCluster --node-count 1 --enable-oidc-issuer --enable-workload-identity --generate-ssh-keys >/dev/null
export AKS_OIDC_ISSUER="$(wid aks show -n myAKSCluster -g "${{RESOURCE_GROUP}}" --query "oidcIssuerProfile.issuerUrl" -otsv)"
echo "ISSUER1=$AKS_OIDC_ISSUER"
wid aks create \\
 --resource-group "${{RESOURCE_GROUP}}" \\
 --name "${{CLUSTER_NAME}}" \\
 --enable-oidc-issuer \\
 --enable-workload-identity \\
 --generate-ssh-keys >/dev/null
export AKS_OIDC_ISSUER="$(wid aks show --name "${{CLUSTER_NAME}}" \\
 --resource-group "${{RESOURCE_GROUP}}" \\
 --query "oidcIssuerProfile.issuerUrl" \\
 --output tsv)"
echo "ISSUER2=$AKS_OIDC_ISSUER"
wid aks update \\
 --resource-group "${{RESOURCE_GROUP}}" \\
 --name "${{CLUSTER_NAME}}" \\
 --disable-workload-identity >/dev/null
wid aks create -g "${{RESOURCE_GROUP}}" -n "$AKSCLUSTER" >/dev/null
wid aks update --enable-oidc-issuer --enable-workload-identity --name $AKSCLUSTER --resource-group $RESOURCE_GROUP >/dev/null
export AKS_OIDC_ISSUER="$(wid aks show -n $AKSCLUSTER -g $RESOURCE_GROUP --query "oidcIssuerProfile.issuerUrl" -otsv)"
echo "ISSUER3=$AKS_OIDC_ISSUER"
wid aks update -g "${{RESOURCE_GROUP}}" -n myAKSCluster --attach-kubeconfig "{kubeconfig}" >/dev/null
wid aks get-credentials -n myAKSCluster -g "${{RESOURCE_GROUP}}"
"""
    )
    lines = dict(line.split("=", 1) for line in out.stdout.splitlines() if line.startswith("ISSUER"))
    for name in ["ISSUER1", "ISSUER2", "ISSUER3"]:
        assert lines[name].startswith(f"{wid.url}/{wid.creds['tenantId']}/") and lines[name].endswith("/"), lines
    assert len(set(lines.values())) == 3
    rg = f"myResourceGroup{suffix}"

    def show(name):
        return json.loads(wid.cli("aks", "show", "-g", rg, "-n", name).stdout)

    first = show("myAKSCluster")
    assert first["agentPoolProfiles"][0]["count"] == 1
    public_key = (home / ".ssh" / "id_rsa.pub").read_text().strip()
    assert first["linuxProfile"]["ssh"]["publicKeys"][0]["keyData"] == public_key
    assert stat.S_IMODE(os.stat(home / ".ssh" / "id_rsa").st_mode) == 0o600
    # The second cluster reused the key pair the first one made.
    assert show(f"myAKSCluster{suffix}")["linuxProfile"]["ssh"]["publicKeys"][0]["keyData"] == public_key
    assert show(f"myAKSCluster{suffix}")["securityProfile"]["workloadIdentity"]["enabled"] is False
    assert show(f"aks{suffix}")["securityProfile"]["workloadIdentity"]["enabled"] is True
    assert show(f"aks{suffix}")["oidcIssuerProfile"]["enabled"] is True

    config = home / ".kube" / "config"
    assert stat.S_IMODE(os.stat(config).st_mode) == 0o600
    assert config.read_text().count("https://127.0.0.1:6443") == 1
    assert "current-context: myAKSCluster" in config.read_text()
    # A second get-credentials merges the same entries cleanly; --file - prints them.
    wid.cli("aks", "get-credentials", "-n", "myAKSCluster", "-g", rg, env={"HOME": str(home)})
    assert config.read_text().count("https://127.0.0.1:6443") == 1
    printed = wid.cli("aks", "get-credentials", "-n", "myAKSCluster", "-g", rg, "--file", "-").stdout
    assert printed == kubeconfig.read_text()
    refused = wid.cli("aks", "get-credentials", "-n", f"aks{suffix}", "-g", rg, "--file", "-", check=False)
    assert refused.returncode != 0 and "--attach-kubeconfig" in refused.stderr
