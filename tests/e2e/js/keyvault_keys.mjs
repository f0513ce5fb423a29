// @azure/keyvault-keys with its default settings against a vault of wid's: creates an EC key,
// signs a digest on the service, and verifies the signature both through the SDK and with
// Node's own crypto on the key's public JWK, printed as JSON for the Python test to assert on.
import { createHash, createPublicKey, verify } from "node:crypto";
import { ClientSecretCredential } from "@azure/identity";
import { CryptographyClient, KeyClient } from "@azure/keyvault-keys";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const credential = new ClientSecretCredential(env("WID_TENANT"), env("WID_CLIENT_ID"), env("WID_CLIENT_SECRET"), {
  authorityHost: env("WID_URL"),
  disableInstanceDiscovery: true,
});
const keys = new KeyClient(env("WID_VAULT_URL"), credential);
const key = await keys.createEcKey("js-ec", { curve: "P-256" });
const crypto = new CryptographyClient(key.id, credential);
const message = Buffer.from("signed for javascript");
const digest = createHash("sha256").update(message).digest();
const signed = await crypto.sign("ES256", digest);
const { kty, crv, x, y } = key.key;
const jwk = { kty, crv, x: Buffer.from(x).toString("base64url"), y: Buffer.from(y).toString("base64url") };
const local = verify("sha256", message, { key: createPublicKey({ key: jwk, format: "jwk" }), dsaEncoding: "ieee-p1363" }, signed.result);
const sdk = await crypto.verify("ES256", digest, signed.result);
const other = createHash("sha256").update("something else").digest();
const sdkOther = await crypto.verify("ES256", other, signed.result);
console.log(JSON.stringify({ kty, crv, alg: signed.algorithm, length: signed.result.length, local, sdk: sdk.result, sdkOther: sdkOther.result }));
