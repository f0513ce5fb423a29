"""The seed documents' commands, verbatim with `az` replaced by `wid`."""

import base64
import json

from widtest import unique


def decode_claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_seed_001_identity_and_federated_credential(wid):
    suffix = unique("")
    issuer = f"{wid.url}/{wid.creds['tenantId']}/{unique('')}/"
    out = wid.bash(
        f"""
export RANDOM_ID="{suffix}"
export RESOURCE_GROUP="myResourceGroup$RANDOM_ID"
export LOCATION="eastus"
wid group create --name "${{RESOURCE_GROUP}}" --location "${{LOCATION}}"
export AKS_OIDC_ISSUER="{issuer}"
export SUBSCRIPTION="$(wid account show --query id --output tsv)"
export USER_ASSIGNED_IDENTITY_NAME="myIdentity$RANDOM_ID"
wid identity create \\
    --name "${{USER_ASSIGNED_IDENTITY_NAME}}" \\
    --resource-group "${{RESOURCE_GROUP}}" \\
    --location "${{LOCATION}}" \\
    --subscription "${{SUBSCRIPTION}}"
export USER_ASSIGNED_CLIENT_ID="$(wid identity show \\
    --resource-group "${{RESOURCE_GROUP}}" \\
    --name "${{USER_ASSIGNED_IDENTITY_NAME}}" \\
    --query 'clientId' \\
    --output tsv)"
export SERVICE_ACCOUNT_NAME="workload-identity-sa$RANDOM_ID"
export SERVICE_ACCOUNT_NAMESPACE="default"
export FEDERATED_IDENTITY_CREDENTIAL_NAME="myFedIdentity$RANDOM_ID"
wid identity federated-credential create \\
    --name ${{FEDERATED_IDENTITY_CREDENTIAL_NAME}} \\
    --identity-name "${{USER_ASSIGNED_IDENTITY_NAME}}" \\
    --resource-group "${{RESOURCE_GROUP}}" \\
    --issuer "${{AKS_OIDC_ISSUER}}" \\
    --subject system:serviceaccount:"${{SERVICE_ACCOUNT_NAMESPACE}}":"${{SERVICE_ACCOUNT_NAME}}" \\
    --audience api://AzureADTokenExchange
echo "CLIENT_ID=${{USER_ASSIGNED_CLIENT_ID}}"
"""
    )
    client_id = out.stdout.strip().splitlines()[-1].removeprefix("CLIENT_ID=")
    assert len(client_id) == 36 and client_id.count("-") == 4, out.stdout
    rg, identity = f"myResourceGroup{suffix}", f"myIdentity{suffix}"
    shown = json.loads(wid.cli("identity", "show", "-g", rg, "-n", identity).stdout)
    assert shown["clientId"] == client_id and shown["resourceGroup"] == rg
    cred = json.loads(wid.cli("identity", "federated-credential", "show", "--name", f"myFedIdentity{suffix}", "--identity-name", identity, "-g", rg).stdout)
    assert cred["issuer"] == issuer
    assert cred["subject"] == f"system:serviceaccount:default:workload-identity-sa{suffix}"
    assert cred["audiences"] == ["api://AzureADTokenExchange"]

    updated = json.loads(
        wid.cli("identity", "federated-credential", "update", "--name", f"myFedIdentity{suffix}", "--identity-name", identity, "-g", rg, "--subject", "system:serviceaccount:other:sa").stdout
    )
    assert updated["subject"] == "system:serviceaccount:other:sa" and updated["issuer"] == issuer
    names = wid.cli("identity", "federated-credential", "list", "--identity-name", identity, "-g", rg, "--query", "[].name", "-o", "tsv").stdout
    assert names == f"myFedIdentity{suffix}\n"
    wid.cli("identity", "federated-credential", "delete", "--name", f"myFedIdentity{suffix}", "--identity-name", identity, "-g", rg, "--yes")
    assert wid.cli("identity", "federated-credential", "list", "--identity-name", identity, "-g", rg, "-o", "tsv").stdout == ""


def test_seed_000_az_rest_put_creates_a_credential(wid):
    rg, uaid, ficid = unique("rg-rest-"), unique("uaid-"), unique("fic-")
    wid.cli("group", "create", "-n", rg, "-l", "westeurope")
    wid.cli("identity", "create", "-n", uaid, "-g", rg)
    issuer = f"{wid.url}/{wid.creds['tenantId']}/{unique('')}/"
    wid.bash(
        f"""
SUBSCRIPTION="$(wid account show --query id -otsv)"
RESOURCE_GROUP={rg}
UAID={uaid}
FICID={ficid}
AKS_OIDC_ISSUER={issuer}
SERVICE_ACCOUNT_NAMESPACE=ns1
SERVICE_ACCOUNT_NAME=sa1
wid rest --method put --url "/subscriptions/${{SUBSCRIPTION}}/resourceGroups/${{RESOURCE_GROUP}}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${{UAID}}/federatedIdentityCredentials/${{FICID}}?api-version=2022-01-31-PREVIEW" --headers "Content-Type=application/json" --body "{{'properties':{{'issuer':'${{AKS_OIDC_ISSUER}}','subject':'system:serviceaccount:${{SERVICE_ACCOUNT_NAMESPACE}}:${{SERVICE_ACCOUNT_NAME}}','audiences':['api://AzureADTokenExchange'] }}}}"
"""
    )
    cred = json.loads(wid.cli("identity", "federated-credential", "show", "-n", ficid, "--identity-name", uaid, "-g", rg).stdout)
    assert (cred["issuer"], cred["subject"]) == (issuer, "system:serviceaccount:ns1:sa1")
    identity = json.loads(wid.cli("identity", "show", "-n", uaid, "-g", rg).stdout)
    assert identity["location"] == "westeurope", "location defaults to the group's, as az does"


def test_account_cloud_and_tokens(wid):
    cloud = json.loads(wid.cli("cloud", "show").stdout)
    assert cloud["endpoints"]["resourceManager"] == f"{wid.url}/"
    assert cloud["endpoints"]["activeDirectory"] == wid.url
    assert cloud["suffixes"]["keyvaultDns"] == f".vault.wid.localhost:{wid.port}", "the port, or az knocks on 443"
    assert cloud["suffixes"]["keyvaultResource"] == f"https://vault.wid.localhost:{wid.port}"
    token = json.loads(wid.cli("account", "get-access-token").stdout)
    assert token["tokenType"] == "Bearer" and token["subscription"] == wid.subscription
    assert token["tenant"] == wid.creds["tenantId"] and isinstance(token["expires_on"], int)
    claims = decode_claims(token["accessToken"])
    assert claims["aud"] == "https://management.wid.localhost" and claims["tid"] == wid.creds["tenantId"]
    accounts = json.loads(wid.cli("account", "list").stdout)
    assert [a["id"] for a in accounts] == [wid.subscription] and accounts[0]["isDefault"] is True
    wid.cli("account", "set", "--subscription", wid.subscription)
    assert wid.cli("account", "show", "--query", "id", "-o", "tsv").stdout == f"{wid.subscription}\n"
    bad = wid.cli("account", "set", "--subscription", "00000000-0000-0000-0000-000000000000", check=False)
    assert bad.returncode != 0 and "doesn't exist" in bad.stderr


def test_groups_and_output_formats(wid):
    rg = unique("rg-fmt-")
    assert wid.cli("group", "exists", "-n", rg).stdout == "false\n"
    wid.cli("group", "create", "-n", rg, "-l", "East US", "--tags", "env=test", "owner")
    assert wid.cli("group", "exists", "-n", rg).stdout == "true\n"
    group = json.loads(wid.cli("group", "show", "-g", rg).stdout)
    assert group["location"] == "eastus" and group["tags"] == {"env": "test", "owner": ""}
    table = wid.cli("group", "show", "-n", rg, "-o", "table").stdout.splitlines()
    assert table[0].split() == ["Location", "Name"], "null, nested, id and type columns are left out, as az does"
    assert table[1].startswith("---") and rg in table[2]
    assert f"name: {rg}" in wid.cli("group", "show", "-n", rg, "-o", "yaml").stdout
    assert wid.cli("group", "show", "-n", rg, "-o", "none").stdout == ""
    assert rg in wid.cli("group", "list", "--query", "[].name", "-o", "tsv").stdout.splitlines()
    wid.cli("group", "delete", "-n", rg, "--yes")
    assert wid.cli("group", "exists", "-n", rg).stdout == "false\n"
    missing = wid.cli("group", "show", "-n", rg, check=False)
    assert missing.returncode != 0 and "(ResourceGroupNotFound)" in missing.stderr


def test_errors_exit_non_zero_with_the_server_code(wid):
    rg = unique("rg-err-")
    wid.cli("group", "create", "-n", rg, "-l", "eastus")
    missing = wid.cli("identity", "show", "-n", "nobody-here", "-g", rg, check=False)
    assert missing.returncode != 0 and "(ResourceNotFound)" in missing.stderr and missing.stdout == ""
    bad = wid.cli("identity", "create", "-n", "x", "-g", rg, check=False)
    assert bad.returncode != 0 and "(InvalidResourceName)" in bad.stderr
    bad_fic = wid.cli("identity", "federated-credential", "create", "-n", "fic1", "--identity-name", "nobody-here", "-g", rg, "--issuer", "https://i/", "--subject", "s", check=False)
    assert bad_fic.returncode != 0 and "(ParentResourceNotFound)" in bad_fic.stderr


def test_list_commands_list_by_group_and_by_subscription_in_azs_shapes(wid):
    rg, other = unique("rg-list-"), unique("rg-list-")
    for group in (rg, other):
        wid.cli("group", "create", "-n", group, "-l", "eastus")
    wid.cli("identity", "create", "-g", rg, "-n", "listed-id")
    wid.cli("identity", "create", "-g", other, "-n", "elsewhere-id")
    vault = unique("kvlist")
    wid.cli("keyvault", "create", "-g", rg, "-n", vault)
    wid.cli("aks", "create", "-g", rg, "-n", "listed-aks", "--enable-oidc-issuer")

    def listed(*args):
        return json.loads(wid.cli(*args).stdout)

    in_group = listed("identity", "list", "-g", rg)
    assert [(i["name"], i["resourceGroup"]) for i in in_group] == [("listed-id", rg)]
    assert in_group[0]["clientId"], "identities are flattened, as az prints them"
    everywhere = {i["name"] for i in listed("identity", "list")}
    assert {"listed-id", "elsewhere-id"} <= everywhere

    vaults = listed("keyvault", "list", "-g", rg)
    assert [v["name"] for v in vaults] == [vault]
    assert vaults[0]["properties"]["vaultUri"], "vaults keep properties nested, as az prints them"
    assert vault in {v["name"] for v in listed("keyvault", "list")}
    assert listed("keyvault", "list", "-g", other) == []

    clusters = listed("aks", "list", "-g", rg)
    assert [c["name"] for c in clusters] == ["listed-aks"]
    assert clusters[0]["oidcIssuerProfile"]["issuerUrl"].endswith("/")
    assert "listed-aks" in {c["name"] for c in listed("aks", "list")}
