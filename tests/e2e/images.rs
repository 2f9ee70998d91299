//! Local image commands: images, inspect, tag, rmi, prune, exists, history.

use serde_json::Value;

use crate::harness::{env, Sandbox};

#[test]
fn listing_and_formats() {
    let s = Sandbox::user();
    s.check("pull $REG/busybox", 0, "");
    s.check("pull $REG/layers", 0, "");
    // command | exit | output contains
    s.check(
        "images",
        0,
        "REPOSITORY               TAG       IMAGE ID       CREATED",
    );
    s.check("image ls", 0, "127.0.0.1:5790/layers");
    s.check("image list --digests", 0, "DIGEST");
    s.check(
        "images --format '{{.Repository}}:{{.Tag}}'",
        0,
        "127.0.0.1:5790/busybox:latest",
    );
    s.check(
        "images --format 'table {{.Repository}}\\t{{.Size}}'",
        0,
        "REPOSITORY",
    );
    s.check(
        "images --format json",
        0,
        "\"Repository\":\"127.0.0.1:5790/busybox\"",
    );
    s.check("images --filter reference='*/busy*'", 0, "busybox");
    // Classes as in Go's path.Match, which they silently failed to match before.
    s.check("images --filter reference='*/busybo[wxy]'", 0, "busybox");
    s.check("images --filter bogus=1", 125, "invalid filter 'bogus'");
    s.check("images --format '{{.Nope}'", 125, "template parsing error");
    let q = s.run("images -q");
    assert_eq!(q.ok().stdout.lines().count(), 2, "{q:?}");
    let only = s.run("images --filter reference='*/layers'");
    assert!(!only.stdout.contains("busybox"), "{only:?}");
    let dangling = s.run("images --filter dangling=true -q");
    assert_eq!(dangling.ok().stdout.trim(), "");
}

#[test]
fn inspect_has_dockers_shape() {
    let s = Sandbox::user();
    s.check("pull $REG/busybox", 0, "");
    let out = s.run("image inspect $REG/busybox");
    let v: Value = serde_json::from_str(&out.ok().stdout).unwrap();
    let img = &v[0];
    for key in [
        "Id",
        "RepoTags",
        "RepoDigests",
        "Config",
        "RootFS",
        "Architecture",
        "Os",
        "Size",
        "Created",
    ] {
        assert!(img.get(key).is_some(), "missing {key}: {img}");
    }
    assert_eq!(img["Config"]["Cmd"][0], "sh");
    assert_eq!(img["RootFS"]["Type"], "layers");
    assert_eq!(
        img["RepoTags"][0],
        format!("{}/busybox:latest", env().registry)
    );
    let id = img["Id"].as_str().unwrap().to_string();
    s.check(&format!("inspect -f '{{{{.Id}}}}' {}", &id[7..19]), 0, &id);
    s.check(
        "inspect -f '{{index .Config.Env 0}}' $REG/busybox",
        0,
        "PATH=",
    );
    s.check(
        "inspect -f '{{json .Config.Cmd}}' $REG/busybox",
        0,
        "[\"sh\"]",
    );
    s.check(
        "inspect $REG/nothere",
        1,
        "No such object: 127.0.0.1:5790/nothere",
    );
    s.check("image exists $REG/busybox", 0, "");
    s.check("image exists $REG/nothere", 1, "");
    s.check("history $REG/busybox", 0, "IMAGE          CREATED");
    s.check("history --no-trunc -q $REG/busybox", 0, &id);
}

#[test]
fn tag_and_rmi_follow_docker() {
    let s = Sandbox::user();
    s.check("pull $REG/busybox", 0, "");
    s.check("pull $REG/busybox:v2s2", 0, "");
    s.check("pull $REG/multiarch", 0, "");
    // command | exit | output contains
    s.check("tag $REG/busybox mine:1", 0, "");
    s.check(
        "images --format '{{.Repository}}:{{.Tag}}' mine",
        0,
        "mine:1",
    );
    s.check("inspect -f '{{json .RepoTags}}' mine:1", 0, "\"mine:1\"");
    let id = s
        .run("inspect -f '{{.Id}}' mine:1")
        .stdout
        .trim()
        .to_string();
    s.check(&format!("rmi {}", &id[7..19]), 125, "must be forced");
    s.check("rmi mine:1", 0, "Untagged: mine:1");
    s.check("tag $REG/busybox:nope x", 125, "No such image");
    s.check(
        "tag $REG/busybox 'Bad:Name'",
        125,
        "invalid reference format",
    );
    // Two tags of one image: removing one only untags.
    let out = s.check(
        "rmi $REG/busybox:v2s2",
        0,
        "Untagged: 127.0.0.1:5790/busybox:v2s2",
    );
    assert!(!out.stdout.contains("Deleted"), "{out:?}");
    // busybox and multiarch share their bottom layer: removing one keeps it for the other.
    let layer_count = || s.find_in_layers("bin/busybox").len();
    assert_eq!(layer_count(), 1);
    let out = s.check(
        "rmi $REG/busybox",
        0,
        "Untagged: 127.0.0.1:5790/busybox:latest",
    );
    assert!(out.stdout.contains(&format!("Deleted: {id}")), "{out:?}");
    assert_eq!(layer_count(), 1, "shared layer kept");
    s.check("image rm -f $REG/multiarch", 0, "Deleted:");
    assert_eq!(layer_count(), 0, "last user gone, layer gone");
    s.check("rmi $REG/busybox", 1, "No such image");
    let blobs = std::fs::read_dir(s.root().join("blobs/sha256"))
        .unwrap()
        .count();
    assert_eq!(blobs, 0, "no blob is left behind");
    assert!(s.temp_entries().is_empty(), "{:?}", s.temp_entries());
}

#[test]
fn prune_removes_dangling_then_all() {
    let s = Sandbox::user();
    s.check("pull $REG/busybox", 0, "");
    s.check("pull $REG/layers", 0, "");
    s.check("image prune", 0, "Are you sure you want to continue?");
    s.check("image prune -f", 0, "Total reclaimed space: 0B");
    s.check("image prune -a -f", 0, "deleted: sha256:");
    assert_eq!(s.run("images -q").stdout.trim(), "");
    assert!(s.find_in_layers("bin").is_empty());
}
