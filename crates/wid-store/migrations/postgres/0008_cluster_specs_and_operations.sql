-- What AKS clients read and write back: a cluster's AKS properties as one JSON document
-- (wid_core::model::ClusterSpec; '' for clusters stored before, which read as AKS's
-- defaults), and the kubeconfig of the API server a cluster is attached to, sealed under
-- the KEK.
ALTER TABLE clusters ADD COLUMN spec TEXT NOT NULL DEFAULT '';
ALTER TABLE clusters ADD COLUMN sealed_kubeconfig BYTEA;

-- The long-running operations behind Azure-AsyncOperation and Location URLs. wid completes
-- them within the request; a record only remembers, until it expires, which resource an
-- operation acted on (its readers need read access there) and how it ended.
CREATE TABLE arm_operations (
    id              TEXT NOT NULL PRIMARY KEY,
    subscription_id TEXT NOT NULL,
    resource_id     TEXT NOT NULL,
    status          TEXT NOT NULL,
    started_at      BIGINT NOT NULL,
    ended_at        BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL
);
CREATE INDEX arm_operations_by_expiry ON arm_operations (expires_at);
