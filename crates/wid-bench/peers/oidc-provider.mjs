// node oidc-provider as `wid-bench peers` runs it: the client credentials grant with
// private_key_jwt client authentication and RS256 JWT access tokens, over HTTPS, in workers
// of node's cluster module. Reads its settings from the JSON file named by argv[2]:
// {port, issuer, certPem, keyPem, clientId, clientJwk, resource}. Prints `ready PID...` (the
// primary and its workers) once every worker listens.
import cluster from "node:cluster";
import { generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import https from "node:https";
import os from "node:os";
import Provider from "oidc-provider";

const settings = JSON.parse(readFileSync(process.argv[2], "utf8"));
// One worker per core unless BENCH_WORKERS says otherwise (1: how its docs run it).
const workers = Number(process.env.BENCH_WORKERS) || os.availableParallelism();

if (cluster.isPrimary) {
  const pids = [process.pid];
  let listening = 0;
  cluster.on("listening", (worker) => {
    pids.push(worker.process.pid);
    if (++listening === workers) console.log(`ready ${pids.join(" ")}`);
  });
  cluster.on("exit", (worker, code) => {
    console.error(`worker ${worker.process.pid} exited with ${code}`);
    process.exit(1);
  });
  // One access-token signing key for every worker, as one deployment publishes one JWKS.
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const signingJwk = JSON.stringify({ ...privateKey.export({ format: "jwk" }), kid: "bench", alg: "RS256", use: "sig" });
  for (let i = 0; i < workers; i++) cluster.fork({ BENCH_SIGNING_JWK: signingJwk });
} else {
  const provider = new Provider(settings.issuer, {
    clients: [
      {
        client_id: settings.clientId,
        grant_types: ["client_credentials"],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: "private_key_jwt",
        token_endpoint_auth_signing_alg: "RS256",
        jwks: { keys: [settings.clientJwk] },
      },
    ],
    jwks: { keys: [JSON.parse(process.env.BENCH_SIGNING_JWK)] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => settings.resource,
        getResourceServerInfo: () => ({
          scope: "read",
          accessTokenFormat: "jwt",
          accessTokenTTL: 3600,
          jwt: { sign: { alg: "RS256" } },
        }),
      },
    },
    cookies: { keys: [settings.clientId] },
  });
  https
    .createServer({ cert: settings.certPem, key: settings.keyPem }, provider.callback())
    .listen(settings.port, "127.0.0.1");
}
