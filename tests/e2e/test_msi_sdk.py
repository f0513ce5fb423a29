"""The unmodified azure-mgmt-msi client against wid's management plane."""

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.msi import ManagedServiceIdentityClient
from azure.mgmt.msi.models import FederatedIdentityCredential, Identity

from widtest import unique

AUDIENCE = "api://AzureADTokenExchange"


@pytest.fixture
def client(wid, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", wid.ca)
    monkeypatch.setenv("SSL_CERT_FILE", wid.ca)
    # Default settings: no api_version, polling as the SDK does it.
    return wid.mgmt_client(ManagedServiceIdentityClient, wid.subscription)


@pytest.fixture
def group(wid):
    name = unique("rg-sdk-")
    wid.cli("group", "create", "--name", name, "--location", "eastus")
    return name


def fic(issuer, subject, audiences=None):
    return FederatedIdentityCredential(issuer=issuer, subject=subject, audiences=audiences or [AUDIENCE])


def error_code(excinfo):
    return excinfo.value.error.code


def test_identities_lifecycle(client, group, wid):
    created = client.user_assigned_identities.create_or_update(group, "sdk-identity", Identity(location="eastus", tags={"team": "a"}))
    assert created.name == "sdk-identity"
    assert created.tenant_id == wid.creds["tenantId"]
    assert len(created.client_id) == 36 and len(created.principal_id) == 36
    got = client.user_assigned_identities.get(group, "sdk-identity")
    assert (got.client_id, got.principal_id) == (created.client_id, created.principal_id)
    updated = client.user_assigned_identities.create_or_update(group, "sdk-identity", Identity(location="eastus", tags={"team": "b"}))
    assert updated.tags == {"team": "b"}
    assert (updated.client_id, updated.principal_id) == (created.client_id, created.principal_id)
    client.user_assigned_identities.create_or_update(group, "sdk-identity-2", Identity(location="eastus"))
    in_group = sorted(i.name for i in client.user_assigned_identities.list_by_resource_group(group))
    assert in_group == ["sdk-identity", "sdk-identity-2"]
    in_sub = {i.id.lower() for i in client.user_assigned_identities.list_by_subscription()}
    assert created.id.lower() in in_sub
    client.user_assigned_identities.delete(group, "sdk-identity-2")
    with pytest.raises(ResourceNotFoundError) as excinfo:
        client.user_assigned_identities.get(group, "sdk-identity-2")
    assert error_code(excinfo) == "ResourceNotFound"


def test_federated_credentials_lifecycle_and_paging(client, group, wid):
    client.user_assigned_identities.create_or_update(group, "fic-owner", Identity(location="eastus"))
    issuer = f"{wid.url}/{wid.creds['tenantId']}/{unique('')}/"
    ops = client.federated_identity_credentials
    made = ops.create_or_update(group, "fic-owner", "first", fic(issuer, "system:serviceaccount:ns:sa0"))
    assert (made.issuer, made.subject, made.audiences) == (issuer, "system:serviceaccount:ns:sa0", [AUDIENCE])
    for i in range(1, 5):
        ops.create_or_update(group, "fic-owner", f"cred-{i}", fic(issuer, f"system:serviceaccount:ns:sa{i}"))
    got = ops.get(group, "fic-owner", "first")
    assert got.subject == "system:serviceaccount:ns:sa0"
    listed = [c.name for c in ops.list(group, "fic-owner", top=2)]
    assert sorted(listed) == sorted(["first", "cred-1", "cred-2", "cred-3", "cred-4"])
    assert len(listed) == len(set(listed)) == 5
    ops.delete(group, "fic-owner", "first")
    with pytest.raises(ResourceNotFoundError):
        ops.get(group, "fic-owner", "first")


def test_documented_errors(client, group, wid):
    client.user_assigned_identities.create_or_update(group, "full", Identity(location="eastus"))
    ops = client.federated_identity_credentials
    issuer = "https://issuer.example/tenant/cluster/"
    for i in range(20):
        ops.create_or_update(group, "full", f"cred-{i:02}", fic(issuer, f"system:serviceaccount:ns:sa{i}"))

    with pytest.raises(HttpResponseError) as excinfo:
        ops.create_or_update(group, "full", "cred-20", fic(issuer, "system:serviceaccount:ns:sa20"))
    assert excinfo.value.status_code == 400 and "at most 20" in excinfo.value.message

    with pytest.raises(HttpResponseError) as excinfo:
        ops.create_or_update(group, "full", "cred-00", fic(issuer, "system:serviceaccount:ns:sa1"))
    assert excinfo.value.status_code == 400
    assert "Issuer and subject combination already exists" in excinfo.value.message

    with pytest.raises(HttpResponseError) as excinfo:
        ops.create_or_update(group, "full", "cred-01", fic(issuer, "system:serviceaccount:ns:sa1", [AUDIENCE, "api://other"]))
    assert excinfo.value.status_code == 400 and "exactly one audience" in excinfo.value.message

    with pytest.raises(HttpResponseError) as excinfo:
        ops.create_or_update(group, "full", "-bad name", fic(issuer, "system:serviceaccount:ns:x"))
    assert excinfo.value.status_code == 400 and error_code(excinfo) == "InvalidResourceName"

    with pytest.raises(ResourceNotFoundError) as excinfo:
        client.user_assigned_identities.create_or_update(unique("missing-rg-"), "x-identity", Identity(location="eastus"))
    assert error_code(excinfo) == "ResourceGroupNotFound"

    with pytest.raises(ResourceNotFoundError) as excinfo:
        ops.create_or_update(group, "no-such-identity", "cred", fic(issuer, "system:serviceaccount:ns:x"))
    assert error_code(excinfo) == "ParentResourceNotFound"

    with pytest.raises(ResourceNotFoundError) as excinfo:
        client.user_assigned_identities.get(group, "no-such-identity")
    assert error_code(excinfo) == "ResourceNotFound"
