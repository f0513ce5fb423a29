"""The unmodified management SDKs for resource groups, providers and generic resources, Python
and JavaScript, with their default settings (api-versions included), against wid."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.resource.resources.models import ResourceGroup, ResourceGroupPatchable
from azure.mgmt.resource.subscriptions import SubscriptionClient

from widtest import unique

JS = Path(__file__).parent / "js"


@pytest.fixture
def trusted(wid, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", wid.ca)
    monkeypatch.setenv("SSL_CERT_FILE", wid.ca)
    return wid


def test_resource_groups_providers_and_resources_with_azure_mgmt_resource(trusted):
    wid = trusted
    client = wid.mgmt_client(ResourceManagementClient, wid.subscription)
    rg = unique("rg-mgmt-")
    created = client.resource_groups.create_or_update(rg, ResourceGroup(location="West Europe", tags={"env": "dev"}))
    assert (created.name, created.location, created.tags) == (rg, "westeurope", {"env": "dev"})
    assert client.resource_groups.check_existence(rg) is True
    assert client.resource_groups.check_existence(unique("rg-none-")) is False

    # PATCH replaces the tags as a whole and keeps everything else.
    updated = client.resource_groups.update(rg, ResourceGroupPatchable(tags={"env": "prod", "team": "id"}))
    assert updated.tags == {"env": "prod", "team": "id"} and updated.location == "westeurope"
    assert client.resource_groups.get(rg).tags == {"env": "prod", "team": "id"}
    with pytest.raises(ResourceNotFoundError):
        client.resource_groups.update(unique("rg-none-"), ResourceGroupPatchable(tags={"a": "b"}))

    other = unique("rg-mgmt-")
    client.resource_groups.create_or_update(other, ResourceGroup(location="eastus", tags={"env": "dev"}))
    by_tag = {g.name for g in client.resource_groups.list(filter="tagName eq 'env' and tagValue eq 'prod'")}
    assert rg in by_tag and other not in by_tag
    by_name = {g.name for g in client.resource_groups.list(filter="tagName eq 'team'")}
    assert rg in by_name and other not in by_name

    providers = {p.namespace: p for p in client.providers.list()}
    for namespace in ["Microsoft.ManagedIdentity", "Microsoft.ContainerService", "Microsoft.KeyVault", "Microsoft.Authorization"]:
        assert providers[namespace].registration_state == "Registered"
    clusters = next(t for t in client.providers.get("Microsoft.ContainerService").resource_types if t.resource_type == "managedClusters")
    assert "2026-08-01" in clusters.api_versions and "East US" in clusters.locations
    assert client.providers.register("Microsoft.KeyVault").registration_state == "Registered"
    with pytest.raises(HttpResponseError) as refused:
        client.providers.get("Microsoft.Nothing")
    assert refused.value.error.code == "InvalidResourceNamespace"

    # Generic resources: what a group holds, whatever its type.
    wid.cli("identity", "create", "-n", "mgmt-id", "-g", rg)
    wid.cli("keyvault", "create", "-n", unique("kvm"), "-g", rg, "--enable-rbac-authorization")
    kinds = sorted(r.type for r in client.resources.list_by_resource_group(rg))
    assert kinds == ["Microsoft.KeyVault/vaults", "Microsoft.ManagedIdentity/userAssignedIdentities"]
    identities = [r.name for r in client.resources.list(filter="resourceType eq 'Microsoft.ManagedIdentity/userAssignedIdentities'") if r.id.lower().startswith(f"/subscriptions/{wid.subscription}/resourcegroups/{rg}/".lower())]
    assert identities == ["mgmt-id"]

    client.resource_groups.begin_delete(other).result()
    assert client.resource_groups.check_existence(other) is False


def test_locations_with_azure_mgmt_resource_subscriptions(trusted):
    wid = trusted
    client = SubscriptionClient(wid.credential(), base_url=wid.url, credential_scopes=[wid.scope])
    locations = {loc.name: loc.display_name for loc in client.subscriptions.list_locations(wid.subscription)}
    assert locations["eastus"] == "East US" and locations["westeurope"] == "West Europe"
    assert [s.subscription_id for s in client.subscriptions.list()] == [wid.subscription]


def js_sdk() -> Path:
    """tests/e2e/js with its pinned packages installed (npm ci, from npm's cache once fetched)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not (node and npm):
        pytest.fail("these tests need Node.js and npm (Debian: apt-get install nodejs npm)")
    if not all((JS / "node_modules" / name).is_dir() for name in json.loads((JS / "package.json").read_text())["dependencies"]):
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=JS, check=True, capture_output=True, timeout=600)
    return JS


def test_arm_resources_for_javascript(trusted):
    wid = trusted
    js = js_sdk()
    rg = unique("rg-js-")
    wid.cli("group", "create", "-n", rg, "-l", "westeurope")
    wid.cli("identity", "create", "-n", "js-id", "-g", rg)
    c = wid.creds
    env = {
        **os.environ,
        "NODE_EXTRA_CA_CERTS": wid.ca,
        "WID_URL": wid.url,
        "WID_TENANT": c["tenantId"],
        "WID_CLIENT_ID": c["clientId"],
        "WID_CLIENT_SECRET": c["clientSecret"],
        "WID_SUBSCRIPTION": wid.subscription,
        "WID_SCOPE": wid.scope,
        "WID_GROUP": rg,
    }
    done = subprocess.run(["node", "arm_resources.mjs"], cwd=js, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["created"] == {"name": rg, "location": "westeurope", "tags": {"stage": "created"}}
    assert out["updated"] == {"name": rg, "tags": {"stage": "updated", "owner": "js"}}
    assert out["shown"] == {"tags": {"stage": "updated", "owner": "js"}, "provisioningState": "Succeeded"}
    assert {"namespace": "Microsoft.KeyVault", "registrationState": "Registered"} in out["providers"]
    vaults = next(t for t in out["keyVault"] if t["resourceType"] == "vaults")
    assert "2026-05-15" in vaults["apiVersions"]
    assert [(r["name"], r["type"], r["location"]) for r in out["resources"]] == [("js-id", "Microsoft.ManagedIdentity/userAssignedIdentities", "westeurope")]
