"""The directory through the real Azure CLI (azure-cli from PyPI, unmodified), signed in as the
admin user with `az login -u`: users, application registrations and their service principals,
`--assignee` in each of the forms az accepts, and a workload federated to an application (as
`azwi serviceaccount create` sets one up) reading a Key Vault secret."""

import json
import sys
import textwrap

import pytest

from widtest import Az, unique

WORKLOAD = textwrap.dedent(
    """
    import os
    from azure.identity import WorkloadIdentityCredential
    from azure.keyvault.secrets import SecretClient

    client = SecretClient(vault_url=os.environ["KEYVAULT_URL"], credential=WorkloadIdentityCredential())
    print("SECRET=" + client.get_secret(os.environ["KEYVAULT_SECRET_NAME"]).value)
    """
)


@pytest.fixture
def az(fresh_wid, tmp_path):
    # On port 443: MSAL asks `https://{host}/common/userrealm/...` without the authority's port.
    wid = fresh_wid(port=443)
    admin = wid.admin_user
    return Az(wid, tmp_path).login_user(admin["userPrincipalName"], admin["password"])


def test_user_login_is_a_user_account(az):
    out = az.run(
        """
echo "ACCOUNT=$(az account show --query '[user.type, user.name, tenantId]' -o tsv | tr '\\n' ' ')"
echo "ME=$(az ad signed-in-user show --query '[id, userPrincipalName]' -o tsv | tr '\\n' ' ')"
echo "TOKEN_TYPE=$(az account get-access-token --query tokenType -o tsv)"
echo "GROUPS=$(az group list --query 'length(@)' -o tsv)"
"""
    )
    admin = az.wid.admin_user
    assert out["ACCOUNT"].split() == ["user", admin["userPrincipalName"], az.wid.creds["tenantId"]]
    assert out["ME"].split() == [admin["objectId"], admin["userPrincipalName"]]
    assert out["TOKEN_TYPE"] == "Bearer"
    assert out["GROUPS"] == "0"


def test_users_and_assignees_in_every_form(az):
    """`az ad user create`, then `--assignee` by UPN, by application id, by service principal
    object id and by managed identity object id; `az role assignment list` names each one."""
    upn = f"{unique('alice')}@{az.wid.admin_user['userPrincipalName'].split('@')[1]}"
    out = az.run(
        f"""
az group create -n rg-assignees -l eastus -o none
SCOPE=$(az group show -n rg-assignees --query id -o tsv)
USER_ID=$(az ad user create --display-name Alice --password 'Str0ng&Secret' --user-principal-name {upn} --query id -o tsv)
APP_ID=$(az ad app create --display-name assignee-app --query appId -o tsv)
SP_ID=$(az ad sp create --id "$APP_ID" --query id -o tsv)
az identity create -n uami-assignee -g rg-assignees -o none
MI_ID=$(az identity show -n uami-assignee -g rg-assignees --query principalId -o tsv)
az role assignment create --assignee {upn} --role Reader --scope "$SCOPE" -o none
az role assignment create --assignee "$APP_ID" --role Contributor --scope "$SCOPE" -o none
az role assignment create --assignee "$MI_ID" --role "Key Vault Secrets User" --scope "$SCOPE" -o none
echo "USER_ID=$USER_ID"
echo "SP_ID=$SP_ID"
echo "MI_ID=$MI_ID"
echo "APP_ID=$APP_ID"
echo "LISTED=$(az role assignment list --scope "$SCOPE" --query '[].[roleDefinitionName, principalType, principalId]' -o json | tr '\\n' ' ')"
echo "SHOWN=$(az ad user show --id {upn} --query '[id, displayName]' -o tsv | tr '\\n' ' ')"
echo "SP_BY_APP=$(az ad sp show --id "$APP_ID" --query id -o tsv)"
echo "USERS=$(az ad user list --query "[?userPrincipalName=='{upn}'] | length(@)" -o tsv)"
az ad user delete --id {upn}
echo "AFTER_DELETE=$(az ad user list --query "[?userPrincipalName=='{upn}'] | length(@)" -o tsv)"
"""
    )
    listed = sorted(tuple(row) for row in json.loads(out["LISTED"]))
    assert listed == sorted(
        [
            ("Reader", "User", out["USER_ID"]),
            ("Contributor", "ServicePrincipal", out["SP_ID"]),
            ("Key Vault Secrets User", "ServicePrincipal", out["MI_ID"]),
        ]
    )
    assert out["SHOWN"].split() == [out["USER_ID"], "Alice"]
    assert out["SP_BY_APP"] == out["SP_ID"]
    assert (out["USERS"], out["AFTER_DELETE"]) == ("1", "0")


def test_application_federated_to_a_service_account_reads_a_secret(az, tmp_path):
    """An app registration instead of a managed identity: `az ad app create`, `az ad sp create
    --id`, `az ad app federated-credential create --id APPID --parameters @fic.json`, Key Vault
    Secrets User for the app (`--assignee APPID`), and the workload exchanging its service
    account token for the application reads the secret."""
    program = tmp_path / "workload.py"
    program.write_text(WORKLOAD)
    vault = f"kv-app-{unique('')[:6]}"
    out = az.run(
        f"""
az group create -n rg-app -l eastus -o none
az aks create -g rg-app -n app-cluster --enable-oidc-issuer --enable-workload-identity --generate-ssh-keys -o none
AKS_OIDC_ISSUER=$(az aks show -g rg-app -n app-cluster --query oidcIssuerProfile.issuerUrl -o tsv)
APPLICATION_CLIENT_ID=$(az ad app create --display-name workload-app --query appId -o tsv)
az ad sp create --id "$APPLICATION_CLIENT_ID" -o none
cat > fic.json <<EOF
{{
    "name": "kubernetes-federated-credential",
    "issuer": "$AKS_OIDC_ISSUER",
    "subject": "system:serviceaccount:default:app-sa",
    "description": "Kubernetes service account federated credential",
    "audiences": ["api://AzureADTokenExchange"]
}}
EOF
az ad app federated-credential create --id "$APPLICATION_CLIENT_ID" --parameters @fic.json -o none
echo "FICS=$(az ad app federated-credential list --id "$APPLICATION_CLIENT_ID" --query '[].[name, subject]' -o tsv | tr '\\t\\n' '  ')"
az keyvault create -n {vault} -g rg-app --enable-rbac-authorization -o none
KEYVAULT_ID=$(az keyvault show -n {vault} --query id -o tsv)
az role assignment create --assignee "$(az ad signed-in-user show --query id -o tsv)" --role "Key Vault Secrets Officer" --scope "$KEYVAULT_ID" -o none
az role assignment create --assignee "$APPLICATION_CLIENT_ID" --role "Key Vault Secrets User" --scope "$KEYVAULT_ID" -o none
az keyvault secret set --vault-name {vault} --name app-secret --value "for-the-app" -o none
KEYVAULT_URL=$(az keyvault show -n {vault} --query properties.vaultUri -o tsv) KEYVAULT_SECRET_NAME=app-secret \\
    wid run --cluster app-cluster -g rg-app --service-account app-sa --client-id "$APPLICATION_CLIENT_ID" -- {sys.executable} {program}
""",
        vaults=[vault],
    )
    assert out["FICS"].split() == ["kubernetes-federated-credential", "system:serviceaccount:default:app-sa"]
    assert out["SECRET"] == "for-the-app"


def test_workload_of_another_subject_is_refused_for_the_application(az, tmp_path):
    """The application trusts one service account; a token of another in the same cluster gets
    Entra's AADSTS700213 naming the subject it presented."""
    program = tmp_path / "workload_token.py"
    program.write_text("import sys\nfrom azure.identity import WorkloadIdentityCredential\nWorkloadIdentityCredential().get_token(sys.argv[1])\n")
    out = az.run(
        f"""
az group create -n rg-app2 -l eastus -o none
az aks create -g rg-app2 -n app-cluster2 --enable-oidc-issuer --generate-ssh-keys -o none
ISSUER=$(az aks show -g rg-app2 -n app-cluster2 --query oidcIssuerProfile.issuerUrl -o tsv)
APP_ID=$(az ad app create --display-name narrow-app --query appId -o tsv)
az ad sp create --id "$APP_ID" -o none
az ad app federated-credential create --id "$APP_ID" -o none --parameters \\
    "{{\\"name\\": \\"only-sa-a\\", \\"issuer\\": \\"$ISSUER\\", \\"subject\\": \\"system:serviceaccount:default:sa-a\\", \\"audiences\\": [\\"api://AzureADTokenExchange\\"]}}"
set +e
wid run --cluster app-cluster2 -g rg-app2 --service-account sa-b --client-id "$APP_ID" -- {sys.executable} {program} {az.wid.scope} 2> refused.txt
echo "RC=$?"
echo "REFUSED=$(grep -o 'AADSTS[0-9]*' refused.txt | head -1)"
echo "NAMED=$(grep -c 'system:serviceaccount:default:sa-b' refused.txt)"
"""
    )
    assert out["RC"] != "0"
    assert out["REFUSED"] == "AADSTS700213"
    assert int(out["NAMED"]) >= 1


def test_access_policy_by_upn_and_an_application_secret(az):
    """`az keyvault set-policy --upn` gives a second user `get` on secrets, and that user, signed
    in with az, reads the secret but may not write one; `az ad app credential reset` makes a
    client secret that az then signs in with."""
    domain = az.wid.admin_user["userPrincipalName"].split("@")[1]
    upn, password = f"{unique('bob')}@{domain}", "Bob-Passw0rd!"
    vault = f"kv-upn-{unique('')[:6]}"
    out = az.run(
        f"""
az group create -n rg-upn -l eastus -o none
az keyvault create -n {vault} -g rg-upn --enable-rbac-authorization false -o none
az keyvault secret set --vault-name {vault} --name shared --value "for-bob" -o none
BOB=$(az ad user create --display-name Bob --password '{password}' --user-principal-name {upn} --query id -o tsv)
az keyvault set-policy --name {vault} --upn {upn} --secret-permissions get list -o none
echo "BOB=$BOB"
echo "BOB_POLICY=$(az keyvault show -n {vault} --query "properties.accessPolicies[?objectId=='$BOB'].permissions.secrets | [0]" -o tsv | tr '\\n' ' ')"
APP_ID=$(az ad app create --display-name secret-app --query appId -o tsv)
az ad sp create --id "$APP_ID" -o none
APP_SECRET=$(az ad app credential reset --id "$APP_ID" --query password -o tsv)
TENANT=$(az account show --query tenantId -o tsv)
az login -u {upn} -p '{password}' -o none
echo "READ=$(az keyvault secret show --vault-name {vault} --name shared --query value -o tsv)"
set +e
az keyvault secret set --vault-name {vault} --name shared --value overwritten -o none 2> write.txt
echo "WRITE_RC=$?"
set -e
echo "WRITE_CODE=$(grep -o 'Forbidden' write.txt | head -1)"
az login --service-principal -u "$APP_ID" -p "$APP_SECRET" --tenant "$TENANT" --allow-no-subscriptions -o none
echo "APP_LOGIN=$(az account show --query '[user.type, user.name]' -o tsv | tr '\\n' ' ')"
""",
        vaults=[vault],
    )
    assert sorted(out["BOB_POLICY"].split()) == ["get", "list"]
    assert out["READ"] == "for-bob"
    assert (out["WRITE_RC"], out["WRITE_CODE"]) == ("1", "Forbidden")
    assert out["APP_LOGIN"].split()[0] == "servicePrincipal"
