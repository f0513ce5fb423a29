"""The seed documents' `az` commands, typed into the real Azure CLI (azure-cli from PyPI,
unmodified), against wid registered as a cloud the documented way (`wid cloud register-az`).

Each seed runs as one bash script in which every `az` line is the seed's own, with only its
placeholders (`subscriptionID`, `myAKSCluster`, ...) set as variables. Lines that are not the
seed's are marked `# wid:` and do what the seed leaves to the reader (attach the cluster's API
server, read the secret as the workload). The commands that look principals up in
Microsoft Graph (`az ad signed-in-user show`, `--assignee`, `set-policy --spn`) run signed in
as the admin user (`az login -u`), as a reader of the seeds is. Seed 002's `az connectedk8s`
is the Arc issue's, and `az extension add` fetches from the internet."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from widtest import Az, unique

WORKLOAD = textwrap.dedent(
    """
    import os
    from azure.identity import WorkloadIdentityCredential
    from azure.keyvault.secrets import SecretClient

    client = SecretClient(vault_url=os.environ["KEYVAULT_URL"], credential=WorkloadIdentityCredential())
    print(f"successfully got secret, secret={client.get_secret(os.environ['KEYVAULT_SECRET_NAME']).value}")
    """
)


@pytest.fixture
def az(fresh_wid, tmp_path):
    return Az(fresh_wid(), tmp_path)


@pytest.fixture
def az_user(fresh_wid, tmp_path):
    """az signed in as the installation's admin user, as the seeds' readers are. On port 443:
    MSAL asks `https://{host}/common/userrealm/...` without the authority's port."""
    wid = fresh_wid(port=443)
    admin = wid.admin_user
    return Az(wid, tmp_path).login_user(admin["userPrincipalName"], admin["password"])


def kubeconfig(tmp_path: Path, server: str) -> Path:
    """A kubeconfig as a cluster's API server hands it out (the real API server is issue #17)."""
    path = tmp_path / "attached.kubeconfig"
    path.write_text(
        textwrap.dedent(
            f"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: attached
              cluster:
                server: {server}
                insecure-skip-tls-verify: true
            users:
            - name: attached-user
              user:
                token: attached-token-value
            contexts:
            - name: attached
              context:
                cluster: attached
                user: attached-user
            current-context: attached
            """
        )
    )
    return path


def test_seed_000_preview_walkthrough(az, tmp_path):
    """Seed 000, the 2022 preview walkthrough: cluster, identity, `az rest` PUT of the credential."""
    attached = kubeconfig(tmp_path, "https://seed-000.example:6443")
    out = az.run(
        f"""
az account show -o none
az group create --name myResourceGroup --location eastus -o none
az aks create -g myResourceGroup -n myAKSCluster --node-count 1 --enable-oidc-issuer --enable-workload-identity --generate-ssh-keys
AKS_OIDC_ISSUER=$(az aks show -n myAKSCluster -g myResourceGroup --query "oidcIssuerProfile.issuerUrl" -otsv)
export subscriptionID="$(az account show --query id -o tsv)"
az account set --subscription "$subscriptionID"
az identity create --name "userAssignedIdentityName" --resource-group "myResourceGroup" --location "eastus" --subscription "$subscriptionID"
export USER_ASSIGNED_CLIENT_ID="$(az identity show --resource-group myResourceGroup --name userAssignedIdentityName --query clientId -otsv)"
wid aks update -n myAKSCluster -g myResourceGroup --attach-kubeconfig {attached}  # wid: attach the API server
az aks get-credentials -n myAKSCluster -g myResourceGroup
SUBSCRIPTION=$subscriptionID RESOURCE_GROUP=myResourceGroup UAID=userAssignedIdentityName FICID=myFedIdentity
SERVICE_ACCOUNT_NAMESPACE=default SERVICE_ACCOUNT_NAME=workload-identity-sa
az rest --method put --url "/subscriptions/${{SUBSCRIPTION}}/resourceGroups/${{RESOURCE_GROUP}}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${{UAID}}/federatedIdentityCredentials/${{FICID}}?api-version=2022-01-31-PREVIEW" --headers "Content-Type=application/json" --body "{{'properties':{{'issuer':'${{AKS_OIDC_ISSUER}}','subject':'system:serviceaccount:${{SERVICE_ACCOUNT_NAMESPACE}}:${{SERVICE_ACCOUNT_NAME}}','audiences':['api://AzureADTokenExchange'] }}}}"
echo "ISSUER=$AKS_OIDC_ISSUER"
echo "CLIENT_ID=$USER_ASSIGNED_CLIENT_ID"
echo "SUBSCRIPTION=$subscriptionID"
"""
    )
    wid = az.wid
    assert out["ISSUER"].startswith(f"{wid.url}/{wid.creds['tenantId']}/") and out["ISSUER"].endswith("/")
    assert out["SUBSCRIPTION"] == wid.subscription and len(out["CLIENT_ID"]) == 36
    cred = json.loads(wid.cli("identity", "federated-credential", "show", "-n", "myFedIdentity", "--identity-name", "userAssignedIdentityName", "-g", "myResourceGroup").stdout)
    assert (cred["issuer"], cred["subject"], cred["audiences"]) == (out["ISSUER"], "system:serviceaccount:default:workload-identity-sa", ["api://AzureADTokenExchange"])
    cluster = json.loads(wid.cli("aks", "show", "-n", "myAKSCluster", "-g", "myResourceGroup").stdout)
    assert cluster["agentPoolProfiles"][0]["count"] == 1
    assert cluster["securityProfile"]["workloadIdentity"]["enabled"] is True
    config = (az.home / ".kube" / "config").read_text()
    assert "https://seed-000.example:6443" in config and "attached-token-value" in config
    assert (az.home / ".ssh" / "id_rsa.pub").exists(), "--generate-ssh-keys made the key pair az sends"


def test_seed_001_current_walkthrough_rbac_vault(az_user, tmp_path):
    """Seed 001, the current walkthrough, signed in as a user, to a workload reading the
    secret, then workload identity off.

    The seed's RANDOM_ID (`openssl rand -hex 3`, six characters) makes a 26-character vault
    name, which Key Vault refuses (the seed's own comment asks for 3-24); four keep it valid."""
    az = az_user
    suffix = unique("")[:4]
    vault = f"keyvault-workload-id{suffix}"
    attached = kubeconfig(tmp_path, "https://seed-001.example:6443")
    program = tmp_path / "workload.py"
    program.write_text(WORKLOAD)
    out = az.run(
        f"""
export RANDOM_ID="{suffix}"
export RESOURCE_GROUP="myResourceGroup$RANDOM_ID"
export LOCATION="eastus"
az group create --name "${{RESOURCE_GROUP}}" --location "${{LOCATION}}"
export CLUSTER_NAME="myAKSCluster$RANDOM_ID"
az aks create \\
    --resource-group "${{RESOURCE_GROUP}}" \\
    --name "${{CLUSTER_NAME}}" \\
    --enable-oidc-issuer \\
    --enable-workload-identity \\
    --generate-ssh-keys
export AKS_OIDC_ISSUER="$(az aks show --name "${{CLUSTER_NAME}}" \\
    --resource-group "${{RESOURCE_GROUP}}" \\
    --query "oidcIssuerProfile.issuerUrl" \\
    --output tsv)"
export SUBSCRIPTION="$(az account show --query id --output tsv)"
export USER_ASSIGNED_IDENTITY_NAME="myIdentity$RANDOM_ID"
az identity create \\
    --name "${{USER_ASSIGNED_IDENTITY_NAME}}" \\
    --resource-group "${{RESOURCE_GROUP}}" \\
    --location "${{LOCATION}}" \\
    --subscription "${{SUBSCRIPTION}}"
export USER_ASSIGNED_CLIENT_ID="$(az identity show \\
    --resource-group "${{RESOURCE_GROUP}}" \\
    --name "${{USER_ASSIGNED_IDENTITY_NAME}}" \\
    --query 'clientId' \\
    --output tsv)"
wid aks update --name "${{CLUSTER_NAME}}" --resource-group "${{RESOURCE_GROUP}}" --attach-kubeconfig {attached}  # wid: attach the API server
az aks get-credentials --name "${{CLUSTER_NAME}}" --resource-group "${{RESOURCE_GROUP}}"
export SERVICE_ACCOUNT_NAMESPACE="default"
export SERVICE_ACCOUNT_NAME="workload-identity-sa$RANDOM_ID"
export FEDERATED_IDENTITY_CREDENTIAL_NAME="myFedIdentity$RANDOM_ID"
az identity federated-credential create \\
    --name ${{FEDERATED_IDENTITY_CREDENTIAL_NAME}} \\
    --identity-name "${{USER_ASSIGNED_IDENTITY_NAME}}" \\
    --resource-group "${{RESOURCE_GROUP}}" \\
    --issuer "${{AKS_OIDC_ISSUER}}" \\
    --subject system:serviceaccount:"${{SERVICE_ACCOUNT_NAMESPACE}}":"${{SERVICE_ACCOUNT_NAME}}" \\
    --audience api://AzureADTokenExchange
export KEYVAULT_NAME="keyvault-workload-id$RANDOM_ID"
az keyvault create \\
    --name "${{KEYVAULT_NAME}}" \\
    --resource-group "${{RESOURCE_GROUP}}" \\
    --location "${{LOCATION}}" \\
    --enable-purge-protection \\
    --enable-rbac-authorization
export KEYVAULT_RESOURCE_ID=$(az keyvault show --resource-group "${{RESOURCE_GROUP}}" \\
    --name "${{KEYVAULT_NAME}}" \\
    --query id \\
    --output tsv)
export CALLER_OBJECT_ID=$(az ad signed-in-user show --query id -o tsv)
az role assignment create --assignee "${{CALLER_OBJECT_ID}}" \\
    --role "Key Vault Secrets Officer" \\
    --scope "${{KEYVAULT_RESOURCE_ID}}"
export KEYVAULT_SECRET_NAME="my-secret$RANDOM_ID"
az keyvault secret set \\
    --vault-name "${{KEYVAULT_NAME}}" \\
    --name "${{KEYVAULT_SECRET_NAME}}" \\
    --value "Hello\\!"
export IDENTITY_PRINCIPAL_ID=$(az identity show \\
    --name "${{USER_ASSIGNED_IDENTITY_NAME}}" \\
    --resource-group "${{RESOURCE_GROUP}}" \\
    --query principalId \\
    --output tsv)
az role assignment create \\
    --assignee-object-id "${{IDENTITY_PRINCIPAL_ID}}" \\
    --role "Key Vault Secrets User" \\
    --scope "${{KEYVAULT_RESOURCE_ID}}" \\
    --assignee-principal-type ServicePrincipal
export KEYVAULT_URL="$(az keyvault show \\
    --resource-group "${{RESOURCE_GROUP}}" \\
    --name ${{KEYVAULT_NAME}} \\
    --query properties.vaultUri \\
    --output tsv)"
# wid: the verification pod, as a local process with the pod's environment.
wid run --cluster "${{CLUSTER_NAME}}" -g "${{RESOURCE_GROUP}}" --service-account "${{SERVICE_ACCOUNT_NAME}}" \\
    --client-id "${{USER_ASSIGNED_CLIENT_ID}}" -- {sys.executable} {program}
az aks update \\
    --resource-group "${{RESOURCE_GROUP}}" \\
    --name "${{CLUSTER_NAME}}" \\
    --disable-workload-identity
echo "KEYVAULT_URL=$KEYVAULT_URL"
echo "VALUE=$(az keyvault secret show --vault-name "${{KEYVAULT_NAME}}" --name "${{KEYVAULT_SECRET_NAME}}" --query value -o tsv)"
echo "WORKLOAD_IDENTITY=$(az aks show --name "${{CLUSTER_NAME}}" --resource-group "${{RESOURCE_GROUP}}" --query securityProfile.workloadIdentity.enabled -o tsv)"
echo "ISSUER_ENABLED=$(az aks show --name "${{CLUSTER_NAME}}" --resource-group "${{RESOURCE_GROUP}}" --query oidcIssuerProfile.enabled -o tsv)"
""",
        vaults=[vault],
    )
    wid = az.wid
    port = "" if wid.port == 443 else f":{wid.port}"
    assert out["KEYVAULT_URL"] == f"https://{vault}.vault.{wid.info['dnsSuffix']}{port}/"
    assert out["VALUE"] == "Hello\\!"
    assert "successfully got secret, secret=Hello\\!" in out["_done"].stdout
    assert (out["WORKLOAD_IDENTITY"], out["ISSUER_ENABLED"]) == ("false", "true")
    assert "https://seed-001.example:6443" in (az.home / ".kube" / "config").read_text()


def test_seed_002_edge_walkthrough_identity_and_vault(az):
    """Seed 002's az lines after `az connectedk8s` (the Arc issue): identity, credential without
    `--audience` (az's default), RBAC vault and both Key Vault roles for the identity."""
    suffix = unique("")[:6]
    vault = f"kv-edge-{suffix}"
    issuer = f"{az.wid.url}/edge-issuer-{suffix}/"
    out = az.run(
        f"""
resource_group_name=rg-edge-{suffix} Location=eastus MSIName=msi-edge FedIdCredentialName=fic-edge
SERVICE_ACCOUNT_ISSUER={issuer} SERVICE_ACCOUNT_NAMESPACE=default SERVICE_ACCOUNT_NAME=workload-identity-sa
KVName={vault} KVSecretName=edge-secret
AZSubscriptionID=$(az account show --query id -o tsv)
az group create -n $resource_group_name -l $Location -o none
az identity create --name $MSIName --resource-group $resource_group_name --location $Location --subscription $AZSubscriptionID
az identity federated-credential create --name $FedIdCredentialName --identity-name $MSIName --resource-group $resource_group_name --issuer $SERVICE_ACCOUNT_ISSUER --subject "system:serviceaccount:${{SERVICE_ACCOUNT_NAMESPACE}}:${{SERVICE_ACCOUNT_NAME}}"
az identity federated-credential show --name $FedIdCredentialName --resource-group $resource_group_name --identity-name $MSIName > cred.json
MSIPrincipalId=$(az identity show --name $MSIName --resource-group $resource_group_name --query principalId -o tsv)
az keyvault create --name $KVName --resource-group $resource_group_name --location $Location --enable-purge-protection --enable-rbac-authorization
KVId=$(az keyvault show --name $KVName --resource-group $resource_group_name --query id -o tsv)
az role assignment create --assignee-object-id $MSIPrincipalId --role "Key Vault Secrets Officer" --scope $KVId --assignee-principal-type ServicePrincipal
az role assignment create --assignee-object-id "$(wid ad signed-in-user show --query id -o tsv)" --role "Key Vault Secrets Officer" --scope $KVId --assignee-principal-type ServicePrincipal  # wid: the admin may write too
az keyvault secret set --vault-name $KVName --name $KVSecretName --value "Hello!"
az role assignment create --assignee-object-id $MSIPrincipalId --role "Key Vault Secrets User" --scope $KVId --assignee-principal-type ServicePrincipal
echo "CRED=$(cat cred.json | tr -d '\\n')"
echo "ROLES=$(wid role assignment list --scope $KVId --assignee $MSIPrincipalId --query '[].roleDefinitionName' -o tsv | sort | tr '\\n' ',')"
echo "VALUE=$(az keyvault secret show --vault-name $KVName --name $KVSecretName --query value -o tsv)"
""",
        vaults=[vault],
    )
    cred = json.loads(out["CRED"])
    assert (cred["issuer"], cred["subject"], cred["audiences"]) == (issuer, "system:serviceaccount:default:workload-identity-sa", ["api://AzureADTokenExchange"])
    assert out["ROLES"] == "Key Vault Secrets Officer,Key Vault Secrets User,"
    assert out["VALUE"] == "Hello!"


def test_seed_003_and_004_update_an_existing_cluster(az, tmp_path):
    """Seeds 003 and 004: a cluster created without the features, `az aks update
    --enable-oidc-issuer --enable-workload-identity`, the credential by `az rest` (003) and by
    `az identity federated-credential create` (004)."""
    attached = kubeconfig(tmp_path, "https://seed-004.example:6443")
    out = az.run(
        f"""
RESOURCE_GROUP=rg-workshop AKSCLUSTER=myAKSCluster LOCATION=eastus USER_ASSIGNED_IDENTITY_NAME=uami-workshop
NAMESPACE=workshop SERVICE_ACCOUNT_NAME=workload-identity-sa FEDERATED_IDENTITY_CREDENTIAL_NAME=fic-workshop
az group create -n $RESOURCE_GROUP -l $LOCATION -o none
az aks create -g $RESOURCE_GROUP -n $AKSCLUSTER --node-count 1 --generate-ssh-keys -o none  # wid: the workshop's existing cluster
echo "BEFORE=$(az aks show -n $AKSCLUSTER -g $RESOURCE_GROUP --query oidcIssuerProfile.enabled -otsv)"
az aks update --enable-oidc-issuer --enable-workload-identity --name $AKSCLUSTER --resource-group $RESOURCE_GROUP
export AKS_OIDC_ISSUER="$(az aks show -n $AKSCLUSTER -g $RESOURCE_GROUP --query "oidcIssuerProfile.issuerUrl" -otsv)"
subscriptionID=$(az account show --query id -o tsv)
az account set --subscription "$subscriptionID"
az identity create --name "${{USER_ASSIGNED_IDENTITY_NAME}}" --resource-group "${{RESOURCE_GROUP}}" --location "${{LOCATION}}"
az identity show --resource-group "${{RESOURCE_GROUP}}" --name "${{USER_ASSIGNED_IDENTITY_NAME}}" > identity.json
wid aks update -n $AKSCLUSTER -g $RESOURCE_GROUP --attach-kubeconfig {attached}  # wid: attach the API server
az aks get-credentials -n $AKSCLUSTER -g "${{RESOURCE_GROUP}}"
az rest --method put --url "/subscriptions/$subscriptionID/resourceGroups/$RESOURCE_GROUP/providers/Microsoft.ManagedIdentity/userAssignedIdentities/$USER_ASSIGNED_IDENTITY_NAME/federatedIdentityCredentials/fic-by-rest?api-version=2022-01-31-PREVIEW" --headers "Content-Type=application/json" --body "{{'properties':{{'issuer':'${{AKS_OIDC_ISSUER}}','subject':'system:serviceaccount:serviceAccountNamespace:serviceAccountName','audiences':['api://AzureADTokenExchange'] }}}}"
az identity federated-credential create --name ${{FEDERATED_IDENTITY_CREDENTIAL_NAME}} --identity-name "${{USER_ASSIGNED_IDENTITY_NAME}}" --resource-group "${{RESOURCE_GROUP}}" --issuer "${{AKS_OIDC_ISSUER}}" --subject system:serviceaccount:"${{NAMESPACE}}":"${{SERVICE_ACCOUNT_NAME}}" --audience api://AzureADTokenExchange
echo "ISSUER=$AKS_OIDC_ISSUER"
echo "IDENTITY=$(cat identity.json | tr -d '\\n')"
echo "SUBJECTS=$(az identity federated-credential list --identity-name $USER_ASSIGNED_IDENTITY_NAME -g $RESOURCE_GROUP --query '[].subject' -o tsv | sort | tr '\\n' ',')"
"""
    )
    wid = az.wid
    assert out["BEFORE"] == "false"
    assert out["ISSUER"].startswith(f"{wid.url}/") and out["ISSUER"].endswith("/")
    identity = json.loads(out["IDENTITY"])
    assert identity["name"] == "uami-workshop" and len(identity["clientId"]) == 36
    assert out["SUBJECTS"] == "system:serviceaccount:serviceAccountNamespace:serviceAccountName,system:serviceaccount:workshop:workload-identity-sa,"
    assert "https://seed-004.example:6443" in (az.home / ".kube" / "config").read_text()


def test_seed_001_signed_in_user(az_user):
    out = az_user.run('export CALLER_OBJECT_ID=$(az ad signed-in-user show --query id -o tsv)\necho "CALLER_OBJECT_ID=$CALLER_OBJECT_ID"')
    assert out["CALLER_OBJECT_ID"] == az_user.wid.admin_user["objectId"]


def test_seed_001_role_assignment_by_assignee(az_user):
    """The seed's `--assignee` with the caller's object id: az looks it up in Graph and
    assigns it as a User."""
    out = az_user.run(
        """
az group create -n rg-graph -l eastus -o none
az keyvault create --name kv-graph-assignee -g rg-graph --enable-rbac-authorization -o none
export KEYVAULT_RESOURCE_ID=$(az keyvault show -g rg-graph --name kv-graph-assignee --query id -o tsv)
export CALLER_OBJECT_ID=$(az ad signed-in-user show --query id -o tsv)
az role assignment create --assignee "${CALLER_OBJECT_ID}" \\
    --role "Key Vault Secrets Officer" \\
    --scope "${KEYVAULT_RESOURCE_ID}"
echo "ASSIGNED=$(az role assignment list --scope "${KEYVAULT_RESOURCE_ID}" --query "[?roleDefinitionName=='Key Vault Secrets Officer'].[principalId,principalType,principalName]" -o tsv)"
"""
    )
    admin = az_user.wid.admin_user
    assert out["ASSIGNED"].split("\t") == [admin["objectId"], "User", admin["userPrincipalName"]]


def test_seed_000_003_004_access_policies_by_spn(az_user, tmp_path):
    """Seeds 000/003 (`set-policy --name ... --spn`) and 004 (`-g ... -n ... --spn` for keys, secrets
    and certificates) on an access-policy vault, which `az keyvault create` gives its creator a
    policy on; the identity then reads the secret under its access policy."""
    program = tmp_path / "workload.py"
    program.write_text(WORKLOAD)
    vault = f"kv-policy-{unique('')[:6]}"
    out = az_user.run(
        f"""
RESOURCE_GROUP=rg-policy KEYVAULT_NAME={vault}
az group create -n $RESOURCE_GROUP -l eastus -o none
az aks create -g $RESOURCE_GROUP -n policy-cluster --enable-oidc-issuer --enable-workload-identity --generate-ssh-keys -o none
AKS_OIDC_ISSUER=$(az aks show -g $RESOURCE_GROUP -n policy-cluster --query oidcIssuerProfile.issuerUrl -o tsv)
az identity create -n uami-policy -g $RESOURCE_GROUP -o none
USER_ASSIGNED_CLIENT_ID=$(az identity show -n uami-policy -g $RESOURCE_GROUP --query clientId -o tsv)
az identity federated-credential create --name fic-policy --identity-name uami-policy -g $RESOURCE_GROUP \\
    --issuer "$AKS_OIDC_ISSUER" --subject system:serviceaccount:default:sa-policy -o none
az keyvault create -n $KEYVAULT_NAME -g $RESOURCE_GROUP --enable-rbac-authorization false -o none
echo "CREATOR_POLICY=$(az keyvault show -n $KEYVAULT_NAME --query "properties.accessPolicies[0].objectId" -o tsv)"
az keyvault set-policy --name "$KEYVAULT_NAME" --secret-permissions get --spn "${{USER_ASSIGNED_CLIENT_ID}}" -o none
az keyvault set-policy -g $RESOURCE_GROUP -n $KEYVAULT_NAME --key-permissions get --spn $USER_ASSIGNED_CLIENT_ID -o none
az keyvault set-policy -g $RESOURCE_GROUP -n $KEYVAULT_NAME --secret-permissions get --spn $USER_ASSIGNED_CLIENT_ID -o none
az keyvault set-policy -g $RESOURCE_GROUP -n $KEYVAULT_NAME --certificate-permissions get --spn $USER_ASSIGNED_CLIENT_ID -o none
PRINCIPAL_ID=$(az identity show -n uami-policy -g $RESOURCE_GROUP --query principalId -o tsv)
echo "POLICY=$(az keyvault show -n $KEYVAULT_NAME --query "properties.accessPolicies[?objectId=='$PRINCIPAL_ID'].permissions | [0]" -o json | tr -d ' \n')"
az keyvault secret set --vault-name $KEYVAULT_NAME --name policy-secret --value "by-policy" -o none
KEYVAULT_URL=$(az keyvault show -n $KEYVAULT_NAME --query properties.vaultUri -o tsv)
KEYVAULT_URL=$KEYVAULT_URL KEYVAULT_SECRET_NAME=policy-secret \\
    wid run --cluster policy-cluster -g $RESOURCE_GROUP --service-account sa-policy \\
    --client-id "$USER_ASSIGNED_CLIENT_ID" -- {sys.executable} {program}
""",
        vaults=[vault],
    )
    assert out["CREATOR_POLICY"] == az_user.wid.admin_user["objectId"]
    policy = json.loads(out["POLICY"])
    assert (policy["keys"], policy["secrets"], policy["certificates"]) == (["get"], ["get"], ["get"])
    assert "successfully got secret, secret=by-policy" in out["_done"].stdout
