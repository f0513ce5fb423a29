"""The unmodified azure-mgmt-keyvault client, with its default api-version, against wid's
management plane: vaults (created with the poller, listed through `…/resources` and by
group), name availability, and secrets as ARM child resources read back on the data plane
by azure-keyvault-secrets."""

import json
import sys
import textwrap

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.keyvault import KeyVaultManagementClient
from azure.mgmt.keyvault.models import (
    SecretCreateOrUpdateParameters,
    SecretPatchParameters,
    SecretPatchProperties,
    SecretProperties,
    Sku,
    VaultCheckNameAvailabilityParameters,
    VaultCreateOrUpdateParameters,
    VaultProperties,
)

import test_keyvault as data_plane
from widtest import unique


@pytest.fixture
def client(wid, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", wid.ca)
    monkeypatch.setenv("SSL_CERT_FILE", wid.ca)
    # Default settings: no api_version, polling as the SDK does it.
    return wid.mgmt_client(KeyVaultManagementClient, wid.subscription)


@pytest.fixture
def group(wid):
    name = unique("rg-kvm-")
    wid.cli("group", "create", "--name", name, "--location", "eastus")
    return name


def create_vault(client, wid, group, name, **properties):
    params = VaultCreateOrUpdateParameters(
        location="eastus",
        tags={"made-by": "azure-mgmt-keyvault"},
        properties=VaultProperties(tenant_id=wid.creds["tenantId"], sku=Sku(name="standard", family="A"), enable_rbac_authorization=True, **properties),
    )
    return client.vaults.begin_create_or_update(group, name, params).result()


def availability(client, name):
    return client.vaults.check_name_availability(VaultCheckNameAvailabilityParameters(name=name))


def test_vaults_are_created_listed_and_their_names_checked(client, wid, group):
    first, second = unique("kvm-"), unique("kvm-")
    assert availability(client, first).name_available is True
    made = create_vault(client, wid, group, first, enable_purge_protection=True)
    assert made.name == first
    assert made.properties.vault_uri == f"https://{first}.vault.{wid.info['dnsSuffix']}:{wid.port}/"
    assert made.properties.enable_purge_protection is True
    create_vault(client, wid, group, second)

    # vaults.list goes through GET /subscriptions/{sub}/resources with its own filter.
    listed = {v.name: v for v in client.vaults.list()}
    assert {first, second} <= set(listed)
    assert listed[first].id == made.id
    assert listed[first].type == "Microsoft.KeyVault/vaults"
    assert listed[first].tags == {"made-by": "azure-mgmt-keyvault"}
    assert {v.type for v in listed.values()} == {"Microsoft.KeyVault/vaults"}
    paged = [v.name for v in client.vaults.list(top=1)]
    assert sorted(paged) == sorted(listed) and len(paged) == len(set(paged))
    assert sorted(v.name for v in client.vaults.list_by_resource_group(group)) == sorted([first, second])

    taken = availability(client, first.upper())
    assert (taken.name_available, taken.reason) == (False, "AlreadyExists")
    assert "already in use" in taken.message
    invalid = availability(client, "kv--double")
    assert (invalid.name_available, invalid.reason) == (False, "AccountNameInvalid")

    # A soft-deleted vault keeps its name and leaves the listings.
    client.vaults.delete(group, second)
    deleted = availability(client, second)
    assert (deleted.name_available, deleted.reason) == (False, "AlreadyExists")
    assert "recoverable" in deleted.message
    assert second not in {v.name for v in client.vaults.list()}
    assert [v.name for v in client.vaults.list_by_resource_group(group)] == [first]


READ_BACK = textwrap.dedent(
    """
    # The data plane, through the unmodified SDK: what ARM wrote.
    import json, os
    from azure.identity import ClientSecretCredential
    from azure.keyvault.secrets import SecretClient

    cred = ClientSecretCredential(os.environ["TENANT"], os.environ["CLIENT_ID"], os.environ["CLIENT_SECRET"], authority=os.environ["AUTHORITY"], disable_instance_discovery=True)
    client = SecretClient(os.environ["VAULT_URL"], cred)
    s = client.get_secret("db-password")
    print(json.dumps({"value": s.value, "content_type": s.properties.content_type, "tags": s.properties.tags,
                      "versions": sum(1 for _ in client.list_properties_of_secret_versions("db-password")),
                      "listed": sorted(p.name for p in client.list_properties_of_secrets())}))
    """
)


def test_secrets_set_through_arm_are_read_by_the_data_plane_sdk(client, wid, group, tmp_path):
    vault = unique("kvs-")
    made = create_vault(client, wid, group, vault)
    me = wid.cli("ad", "signed-in-user", "show", "--query", "id", "-o", "tsv").stdout.strip()
    wid.cli("role", "assignment", "create", "--assignee", me, "--role", "Key Vault Secrets User", "--scope", made.id)

    params = SecretCreateOrUpdateParameters(tags={"app": "web"}, properties=SecretProperties(value="first-value", content_type="text/plain"))
    created = client.secrets.create_or_update(group, vault, "db-password", params)
    assert created.name == "db-password"
    assert created.type == "Microsoft.KeyVault/vaults/secrets"
    assert created.properties.value is None, "ARM never returns a value"
    assert created.properties.secret_uri == f"{made.properties.vault_uri}secrets/db-password"
    assert created.properties.secret_uri_with_version.startswith(created.properties.secret_uri + "/")
    again = client.secrets.create_or_update(group, vault, "db-password", SecretCreateOrUpdateParameters(
        tags={"app": "web"}, properties=SecretProperties(value="second-value", content_type="text/plain")))
    assert again.properties.secret_uri_with_version != created.properties.secret_uri_with_version
    got = client.secrets.get(group, vault, "db-password")
    assert got.properties.value is None
    assert (got.properties.content_type, got.tags) == ("text/plain", {"app": "web"})
    assert got.properties.attributes.enabled is True

    for i in range(3):
        client.secrets.create_or_update(group, vault, f"extra-{i}", SecretCreateOrUpdateParameters(properties=SecretProperties(value=f"v{i}")))
    listed = [s.name for s in client.secrets.list(group, vault, top=2)]
    assert listed == ["db-password", "extra-0", "extra-1", "extra-2"]
    assert all(s.properties.value is None for s in client.secrets.list(group, vault))

    patched = client.secrets.update(group, vault, "extra-0", SecretPatchParameters(tags={"patched": "yes"}, properties=SecretPatchProperties(content_type="application/json")))
    assert (patched.tags, patched.properties.content_type) == ({"patched": "yes"}, "application/json")

    with pytest.raises(HttpResponseError) as excinfo:
        client.secrets.create_or_update(group, vault, "bad_name", SecretCreateOrUpdateParameters(properties=SecretProperties(value="x")))
    assert excinfo.value.status_code == 400

    program = tmp_path / "read_back.py"
    program.write_text(READ_BACK)
    c = wid.creds
    env = {"TENANT": c["tenantId"], "CLIENT_ID": c["clientId"], "CLIENT_SECRET": c["clientSecret"], "AUTHORITY": wid.url,
           "VAULT_URL": made.properties.vault_uri, "REQUESTS_CA_BUNDLE": wid.ca, "SSL_CERT_FILE": wid.ca}
    done = data_plane.in_vault_namespace(wid, tmp_path, [vault], [sys.executable, str(program)], env=env)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out == {"value": "second-value", "content_type": "text/plain", "tags": {"app": "web"}, "versions": 2,
                   "listed": ["db-password", "extra-0", "extra-1", "extra-2"]}
