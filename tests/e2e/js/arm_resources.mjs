// @azure/arm-resources with its default settings against wid: what `resourceGroups.update`,
// `providers.list` and `resources.listByResourceGroup` return, printed as JSON for the
// Python test to assert on. Trust in wid's CA comes from NODE_EXTRA_CA_CERTS.
import { ClientSecretCredential } from "@azure/identity";
import { ResourceManagementClient } from "@azure/arm-resources";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const credential = new ClientSecretCredential(env("WID_TENANT"), env("WID_CLIENT_ID"), env("WID_CLIENT_SECRET"), {
  authorityHost: env("WID_URL"),
  disableInstanceDiscovery: true,
});
const client = new ResourceManagementClient(credential, env("WID_SUBSCRIPTION"), {
  endpoint: env("WID_URL"),
  $host: env("WID_URL"),
  credentialScopes: [env("WID_SCOPE")],
});
const group = env("WID_GROUP");

const created = await client.resourceGroups.createOrUpdate(group, { location: "westeurope", tags: { stage: "created" } });
const updated = await client.resourceGroups.update(group, { tags: { stage: "updated", owner: "js" } });
const shown = await client.resourceGroups.get(group);
const providers = [];
for await (const p of client.providers.list()) providers.push(p);
const keyVault = await client.providers.get("Microsoft.KeyVault");
const resources = [];
for await (const r of client.resources.listByResourceGroup(group)) resources.push(r);

console.log(
  JSON.stringify({
    created: { name: created.name, location: created.location, tags: created.tags },
    updated: { name: updated.name, tags: updated.tags },
    shown: { tags: shown.tags, provisioningState: shown.properties?.provisioningState },
    providers: providers.map((p) => ({ namespace: p.namespace, registrationState: p.registrationState })),
    keyVault: keyVault.resourceTypes.map((t) => ({ resourceType: t.resourceType, apiVersions: t.apiVersions })),
    resources: resources.map((r) => ({ id: r.id, name: r.name, type: r.type, location: r.location })),
  }),
);
