"""wid's container image, built by scripts/image as an OCI layout (no registry, no container
engine), unpacked with umoci and run: its entrypoint is the wid binary, it runs as the user the
manifests expect, it has what `wid proxy-init` needs, and the manifests name it."""

import json
import os
import subprocess
from pathlib import Path

import yaml

from widtest import wid_bin

ROOT = Path(__file__).resolve().parents[2]


def test_the_image_runs_wid_and_the_manifests_reference_it(tmp_path):
    layout = tmp_path / "oci" / "wid"
    env = {**os.environ, "WID_IMAGE_BINARY": wid_bin(), "WID_IMAGE_TAG": "e2e"}
    built = subprocess.run([str(ROOT / "scripts" / "image"), str(layout)], env=env, capture_output=True, text=True, timeout=1200)
    assert built.returncode == 0, built.stderr
    assert built.stdout.strip().splitlines()[-1] == f"{layout}:e2e"
    index = json.loads((layout / "index.json").read_text())
    assert [m["annotations"]["org.opencontainers.image.ref.name"] for m in index["manifests"]] == ["e2e"]

    bundle = tmp_path / "bundle"
    subprocess.run(["umoci", "unpack", "--image", f"{layout}:e2e", str(bundle)], check=True, capture_output=True)
    process = json.loads((bundle / "config.json").read_text())["process"]
    assert process["args"] == ["/usr/local/bin/wid"]
    assert (process["user"]["uid"], process["user"]["gid"]) == (65532, 65532)
    rootfs = bundle / "rootfs"
    version = subprocess.run([wid_bin(), "--version"], capture_output=True, text=True, check=True).stdout
    inside = subprocess.run(["chroot", "--userspec=65532:65532", str(rootfs), "/usr/local/bin/wid", "--version"],
                            capture_output=True, text=True)
    assert inside.returncode == 0 and inside.stdout == version, inside.stderr
    iptables = subprocess.run(["chroot", str(rootfs), "iptables", "--version"], capture_output=True, text=True)
    assert iptables.returncode == 0 and iptables.stdout.startswith("iptables v"), iptables.stderr

    # The manifests, printed by the image's own binary, run that image for the webhook and
    # give it to the proxy sidecar.
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n")
    (rootfs / "tmp" / "ca.pem").write_text(ca.read_text())
    reference = "registry.example/wid:e2e"
    printed = subprocess.run(["chroot", str(rootfs), "/usr/local/bin/wid", "webhook", "manifests", "--tenant-id",
                              "72f988bf-86f1-41af-91ab-2d7cd011db47", "--image", reference, "--ca-bundle", "/tmp/ca.pem"],
                             capture_output=True, text=True)
    assert printed.returncode == 0, printed.stderr
    deployment = next(d for d in yaml.safe_load_all(printed.stdout) if d and d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == reference
    assert f"--proxy-image={reference}" in container["args"]
