//! Bits and staging through the HTTP API as the cf CLI drives them: resource matching,
//! package upload (and hostile archives), buildpacks and stacks, builds as Diego tasks,
//! their completion callbacks, droplets and signed internal URLs.

mod bridge_support;
mod common;

use std::io::{Cursor, Read, Write};

use common::{TestCc, error_of, guid, location};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha1::{Digest, Sha1};
use zip::{ZipArchive, ZipWriter, write::SimpleFileOptions};

struct World {
    cc: TestCc,
    dev: String,
    auditor: String,
    outsider: String,
    app: String,
    http: reqwest::Client,
}

const BOUNDARY: &str = "ingot-test-boundary";

/// The entries a package zip may hold here (the default is 100,000: slow to build).
const MAX_ENTRIES: usize = 1_000;

fn part(name: &str, filename: Option<&str>, data: &[u8]) -> Vec<u8> {
    let disposition = match filename {
        Some(f) => format!("form-data; name=\"{name}\"; filename=\"{f}\""),
        None => format!("form-data; name=\"{name}\""),
    };
    let mut out =
        format!("--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n").into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

fn multipart(parts: &[Vec<u8>]) -> Vec<u8> {
    let mut body = parts.concat();
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// A zip written as Go's archive/zip does for the CLI: streamed, so the local headers carry
/// no sizes and a data descriptor follows each entry.
fn go_zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let entries: Vec<(&str, u32, &[u8])> = entries
        .iter()
        .map(|(name, data)| {
            (
                *name,
                if name.ends_with('/') {
                    0o040_755
                } else {
                    0o100_644
                },
                *data,
            )
        })
        .collect();
    build_zip(&entries, true)
}

fn unzip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = ZipArchive::new(Cursor::new(bytes)).unwrap();
    let mut out = Vec::new();
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).unwrap();
        let mut data = Vec::new();
        f.read_to_end(&mut data).unwrap();
        out.push((f.name().to_owned(), data));
    }
    out.sort();
    out
}

fn sha1_hex(data: &[u8]) -> String {
    Sha1::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl World {
    /// The common world, with zips limited to [`MAX_ENTRIES`] entries, and an app.
    async fn new() -> Self {
        let cc = TestCc::start_with(|s| s.package_max_entries = MAX_ENTRIES).await;
        let world = common::world_on(cc).await;
        let app = world.create_app("app").await;
        let common::World {
            cc,
            dev,
            auditor,
            outsider,
            ..
        } = world;
        Self {
            cc,
            dev,
            auditor,
            outsider,
            app,
            http: reqwest::Client::new(),
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        token: Option<&str>,
        ct: &str,
        body: Vec<u8>,
    ) -> (StatusCode, Vec<u8>) {
        let url = if url.starts_with("http") {
            url.to_owned()
        } else {
            format!("{}{url}", self.cc.base)
        };
        let mut req = self
            .http
            .request(method, url)
            .header("Content-Type", ct)
            .body(body);
        if let Some(t) = token {
            req = req.header("Authorization", format!("bearer {t}"));
        }
        let res = req.send().await.unwrap();
        (res.status(), res.bytes().await.unwrap().to_vec())
    }

    async fn upload(&self, path: &str, token: &str, parts: &[Vec<u8>]) -> (StatusCode, Value) {
        let (status, body) = self
            .send(
                reqwest::Method::POST,
                path,
                Some(token),
                &format!("multipart/form-data; boundary={BOUNDARY}"),
                multipart(parts),
            )
            .await;
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    async fn new_package(&self) -> String {
        let res = self
            .cc
            .post(
                "/v3/packages",
                &self.dev,
                json!({"type": "bits", "relationships": {"app": {"data": {"guid": self.app}}}}),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        assert_eq!(res.body["state"], "AWAITING_UPLOAD");
        guid(&res.body)
    }

    /// A READY package of `files`.
    async fn ready_package(&self, files: &[(&str, &[u8])]) -> String {
        let p = self.new_package().await;
        let (status, body) = self
            .upload(
                &format!("/v3/packages/{p}/upload"),
                &self.dev,
                &[
                    part("resources", None, b"[]"),
                    part("bits", Some("package.zip"), &go_zip(files)),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["state"], "READY");
        p
    }

    async fn download(&self, path: &str) -> (StatusCode, Vec<u8>) {
        self.send(
            reqwest::Method::GET,
            path,
            Some(&self.dev),
            "application/json",
            Vec::new(),
        )
        .await
    }

    /// A READY buildpack named `name` (admin).
    async fn buildpack(&self, name: &str) -> String {
        let res = self
            .cc
            .post("/v3/buildpacks", &self.cc.admin, json!({"name": name}))
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        let g = guid(&res.body);
        let zip = go_zip(&[("bin/", b""), ("bin/detect", b"#!/bin/sh\n")]);
        let (status, _) = self
            .upload(
                &format!("/v3/buildpacks/{g}/upload"),
                &self.cc.admin.clone(),
                &[part("bits", Some("bp.zip"), &zip)],
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
        g
    }
}

#[tokio::test]
async fn cli_upload_sequence_with_resource_matching() {
    let w = World::new().await;
    let big: Vec<u8> = (0..70_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let big_sha = sha1_hex(&big);
    let resources = json!({"resources": [
        {"path": "sub/big.bin", "mode": "755", "checksum": {"value": big_sha}, "size_in_bytes": big.len()},
        {"path": "index.html", "mode": "644", "checksum": {"value": sha1_hex(b"hi")}, "size_in_bytes": 2},
    ]});
    let res =
        w.cc.post("/v3/resource_matches", &w.dev, resources.clone())
            .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(res.body, json!({"resources": []}));

    let first = w
        .ready_package(&[("sub/", b""), ("sub/big.bin", &big), ("index.html", b"hi")])
        .await;
    let res = w.cc.get(&format!("/v3/packages/{first}"), &w.dev).await;
    assert_eq!(res.body["type"], "bits");
    assert_eq!(res.body["data"]["checksum"]["type"], "sha256");
    assert_eq!(
        res.body["relationships"]["app"]["data"]["guid"],
        w.app.as_str()
    );
    let (status, zip1) = w.download(&format!("/v3/packages/{first}/download")).await;
    assert_eq!(status, StatusCode::OK);

    // Second push: the big file is matched and not uploaded; its mode string comes back.
    let res = w.cc.post("/v3/resource_matches", &w.dev, resources).await;
    assert_eq!(
        res.body["resources"].as_array().unwrap().len(),
        1,
        "{}",
        res.body
    );
    assert_eq!(res.body["resources"][0]["path"], "sub/big.bin");
    assert_eq!(res.body["resources"][0]["mode"], "755");
    let second = w.new_package().await;
    let matched = serde_json::to_vec(&res.body["resources"]).unwrap();
    let (status, body) = w
        .upload(
            &format!("/v3/packages/{second}/upload"),
            &w.dev,
            &[
                part("resources", None, &matched),
                part(
                    "bits",
                    Some("package.zip"),
                    &go_zip(&[("sub/", b""), ("index.html", b"hi")]),
                ),
            ],
        )
        .await;
    assert_eq!(
        (status, &body["state"]),
        (StatusCode::OK, &json!("READY")),
        "{body}"
    );
    let (_, zip2) = w.download(&format!("/v3/packages/{second}/download")).await;
    assert_eq!(unzip(&zip1), unzip(&zip2));

    // Only resources, nothing unmatched.
    let third = w.new_package().await;
    let (status, body) = w
        .upload(
            &format!("/v3/packages/{third}/upload"),
            &w.dev,
            &[part("resources", None, &matched)],
        )
        .await;
    assert_eq!(
        (status, &body["state"]),
        (StatusCode::OK, &json!("READY")),
        "{body}"
    );

    // Lists the CLI reads.
    let res =
        w.cc.get(
            &format!(
                "/v3/packages?app_guids={}&order_by=-created_at&per_page=1",
                w.app
            ),
            &w.dev,
        )
        .await;
    assert_eq!(
        res.body["resources"][0]["guid"],
        third.as_str(),
        "{}",
        res.body
    );
    let res =
        w.cc.get(
            &format!("/v3/apps/{}/packages?states=READY", w.app),
            &w.auditor,
        )
        .await;
    assert_eq!(res.body["resources"].as_array().unwrap().len(), 3);
    let res = w.cc.get("/v3/packages", &w.outsider).await;
    assert_eq!(res.body["resources"], json!([]));

    // RBAC: auditors read but cannot create or upload; outsiders see nothing.
    let res =
        w.cc.post(
            "/v3/packages",
            &w.auditor,
            json!({"type": "bits", "relationships": {"app": {"data": {"guid": w.app}}}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    let res =
        w.cc.post(
            "/v3/packages",
            &w.outsider,
            json!({"type": "bits", "relationships": {"app": {"data": {"guid": w.app}}}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert_eq!(
        w.cc.get(&format!("/v3/packages/{first}"), &w.outsider)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let (status, _) = w
        .upload(
            &format!("/v3/packages/{first}/upload"),
            &w.auditor,
            &[part("resources", None, b"[]")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Bad input: docker, bad type, unknown field; a READY package takes no second upload.
    let res = w
        .cc
        .post("/v3/packages", &w.dev, json!({"type": "docker", "data": {"image": "x"}, "relationships": {"app": {"data": {"guid": w.app}}}}))
        .await;
    let (_, title, detail) = error_of(&res.body);
    assert_eq!(
        (res.status, title.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "CF-UnprocessableEntity")
    );
    assert!(detail.contains("Docker"), "{detail}");
    let res =
        w.cc.post("/v3/packages", &w.dev, json!({"type": "tar", "bogus": 1}))
            .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = w
        .upload(
            &format!("/v3/packages/{first}/upload"),
            &w.dev,
            &[part("resources", None, b"[]")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

/// A zip with entries the `zip` crate would refuse to write: raw local headers and central
/// directory, stored (no compression).
fn raw_zip(entries: &[(&str, u32, &[u8])]) -> Vec<u8> {
    build_zip(entries, false)
}

fn build_zip(entries: &[(&str, u32, &[u8])], descriptors: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, mode, data) in entries {
        let offset = out.len() as u32;
        let crc = crc32(data);
        let header = |sig: u32, central: bool| {
            let mut h = Vec::new();
            h.extend_from_slice(&sig.to_le_bytes());
            if central {
                h.extend_from_slice(&(0x0314u16).to_le_bytes()); // made by unix
            }
            h.extend_from_slice(&20u16.to_le_bytes());
            let flags: u16 = if descriptors { 0x08 } else { 0 };
            h.extend_from_slice(&flags.to_le_bytes());
            h.extend_from_slice(&0u16.to_le_bytes()); // stored
            h.extend_from_slice(&0u32.to_le_bytes()); // time, date
            // A streamed local header leaves crc and sizes to the descriptor.
            let known = central || !descriptors;
            let (crc, size) = if known {
                (crc, data.len() as u32)
            } else {
                (0, 0)
            };
            h.extend_from_slice(&crc.to_le_bytes());
            h.extend_from_slice(&size.to_le_bytes());
            h.extend_from_slice(&size.to_le_bytes());
            h.extend_from_slice(&(name.len() as u16).to_le_bytes());
            h.extend_from_slice(&0u16.to_le_bytes()); // extra
            if central {
                h.extend_from_slice(&0u16.to_le_bytes()); // comment
                h.extend_from_slice(&0u16.to_le_bytes()); // disk
                h.extend_from_slice(&0u16.to_le_bytes()); // internal attrs
                h.extend_from_slice(&(mode << 16).to_le_bytes());
                h.extend_from_slice(&offset.to_le_bytes());
            }
            h.extend_from_slice(name.as_bytes());
            h
        };
        out.extend(header(0x0403_4b50, false));
        out.extend_from_slice(data);
        if descriptors {
            out.extend_from_slice(&0x0807_4b50u32.to_le_bytes());
            out.extend_from_slice(&crc.to_le_bytes());
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        }
        central.extend(header(0x0201_4b50, true));
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for b in data {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn bomb() -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut w = ZipWriter::new(Cursor::new(&mut out));
        let opts =
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        w.start_file("zeros", opts).unwrap();
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..24 {
            w.write_all(&chunk).unwrap();
        }
        w.finish().unwrap();
    }
    out
}

fn many_entries() -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut w = ZipWriter::new(Cursor::new(&mut out));
        for i in 0..=MAX_ENTRIES {
            w.add_directory(format!("d{i}/"), SimpleFileOptions::default())
                .unwrap();
        }
        w.finish().unwrap();
    }
    out
}

#[tokio::test]
async fn hostile_archives_are_rejected_with_nothing_written_outside() {
    let w = World::new().await;
    let outside = w.cc.backend.dir.path().to_owned();
    let file = 0o100_644;
    let link = 0o120_777;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("zip-slip", raw_zip(&[("../../evil", file, b"x")])),
        ("absolute", raw_zip(&[("/tmp/evil-abs", file, b"x")])),
        ("drive letter", raw_zip(&[("C:/evil", file, b"x")])),
        (
            "symlink escape",
            raw_zip(&[("link", link, b"../../../etc/passwd")]),
        ),
        (
            "absolute symlink",
            raw_zip(&[("link", link, b"/etc/passwd")]),
        ),
        (
            "write through symlink",
            raw_zip(&[("d", link, b"."), ("d/evil", file, b"x")]),
        ),
        ("device", raw_zip(&[("dev", 0o020_644, b"")])),
        ("bomb", bomb()),
        ("too many entries", many_entries()),
        ("not a zip", b"garbage".to_vec()),
    ];
    for (what, zip) in cases {
        let p = w.new_package().await;
        let (status, body) = w
            .upload(
                &format!("/v3/packages/{p}/upload"),
                &w.dev,
                &[
                    part("resources", None, b"[]"),
                    part("bits", Some("package.zip"), &zip),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {body}");
        let (code, _, detail) = error_of(&body);
        assert_eq!(code, 10008, "{what}");
        assert!(
            detail.starts_with("The package is invalid: "),
            "{what}: {detail}"
        );
        let res = w.cc.get(&format!("/v3/packages/{p}"), &w.dev).await;
        assert_eq!(res.body["state"], "FAILED", "{what}");
        assert_eq!(res.body["data"]["error"], detail.as_str(), "{what}");
    }
    // A matched resource must obey the same path rules.
    let p = w.new_package().await;
    let bad = json!([{"path": "../x", "mode": "644", "checksum": {"value": sha1_hex(b"x")}, "size_in_bytes": 70000}]);
    let (status, _) = w
        .upload(
            &format!("/v3/packages/{p}/upload"),
            &w.dev,
            &[part("resources", None, bad.to_string().as_bytes())],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    for name in ["evil", "evil-abs"] {
        assert!(!outside.join(name).exists() && !outside.parent().unwrap().join(name).exists());
    }
    assert!(!std::path::Path::new("/tmp/evil-abs").exists());
}

#[tokio::test]
async fn buildpacks_positions_uploads_and_stacks() {
    let w = World::new().await;
    let admin = w.cc.admin.clone();
    let create = |body: Value| {
        let cc = &w.cc;
        let admin = admin.clone();
        async move { cc.post("/v3/buildpacks", &admin, body).await }
    };
    let a = guid(&create(json!({"name": "a"})).await.body);
    let b = guid(&create(json!({"name": "b", "enabled": false})).await.body);
    let res = create(json!({"name": "c", "position": 1, "stack": "cflinuxfs4"})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(res.body["state"], "AWAITING_UPLOAD");
    assert_eq!(res.body["links"]["upload"]["method"], "POST");
    let order = |body: &Value| -> Vec<(String, u64)> {
        body["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["name"].as_str().unwrap().to_owned(),
                    r["position"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let res = w.cc.get("/v3/buildpacks?order_by=position", &w.dev).await;
    assert_eq!(
        order(&res.body),
        [("c".into(), 1), ("a".into(), 2), ("b".into(), 3)]
    );

    let res =
        w.cc.patch(
            &format!("/v3/buildpacks/{a}"),
            &admin,
            json!({"position": 3, "locked": true}),
        )
        .await;
    assert_eq!(
        (res.status, &res.body["position"]),
        (StatusCode::OK, &json!(3)),
        "{}",
        res.body
    );
    let res = w.cc.get("/v3/buildpacks?order_by=position", &w.dev).await;
    assert_eq!(
        order(&res.body),
        [("c".into(), 1), ("b".into(), 2), ("a".into(), 3)]
    );
    let res = w.cc.get("/v3/buildpacks?names=b", &w.dev).await;
    assert_eq!(res.body["resources"][0]["enabled"], false);

    // Upload: 202 + a job that is already COMPLETE; locked buildpacks refuse; zips are checked.
    let zip = go_zip(&[("bin/", b""), ("bin/detect", b"#!/bin/sh\n")]);
    let (status, _) = w
        .upload(
            &format!("/v3/buildpacks/{b}/upload"),
            &admin,
            &[part("bits", Some("bp.zip"), &zip)],
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let res = w.cc.get(&format!("/v3/buildpacks/{b}"), &admin).await;
    assert_eq!(
        (&res.body["state"], &res.body["filename"]),
        (&json!("READY"), &json!("bp.zip"))
    );
    let (status, body) = w
        .upload(
            &format!("/v3/buildpacks/{a}/upload"),
            &admin,
            &[part("bits", Some("bp.zip"), &zip)],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let evil = raw_zip(&[("../evil", 0o100_644, b"x")]);
    let (status, _) = w
        .upload(
            &format!("/v3/buildpacks/{b}/upload"),
            &admin,
            &[part("bits", Some("bp.zip"), &evil)],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // Only admins write; duplicate names and unknown stacks are refused.
    assert_eq!(
        w.cc.post("/v3/buildpacks", &w.dev, json!({"name": "x"}))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        w.cc.delete(&format!("/v3/buildpacks/{b}"), &w.dev)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        create(json!({"name": "a"})).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        create(json!({"name": "z", "stack": "nope"})).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        create(json!({"name": "z", "position": 0})).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    // Delete closes the gap.
    let res = w.cc.delete(&format!("/v3/buildpacks/{b}"), &admin).await;
    let (_, job) = w.cc.wait_for_job(&location(&res), &admin).await;
    assert_eq!(job["state"], "COMPLETE");
    let res = w.cc.get("/v3/buildpacks?order_by=position", &w.dev).await;
    assert_eq!(order(&res.body), [("c".into(), 1), ("a".into(), 2)]);

    let res = w.cc.get("/v3/stacks", &w.dev).await;
    assert_eq!(
        res.body["resources"][0]["name"], "cflinuxfs4",
        "{}",
        res.body
    );
    let s = guid(&res.body["resources"][0]);
    assert_eq!(
        w.cc.get(&format!("/v3/stacks/{s}"), &w.dev).await.status,
        StatusCode::OK
    );
}

/// Every URL in a task's actions: downloads' `from`, uploads' `to`.
fn urls(action: &ingot_bbs::Action, out: &mut Vec<String>) {
    use ingot_bbs::Action::*;
    match action {
        Download(d) => out.push(d.from.clone()),
        Upload(u) => out.push(u.to.clone()),
        Serial(s) => s.actions.iter().for_each(|a| urls(a, out)),
        Parallel(p) => p.actions.iter().for_each(|a| urls(a, out)),
        Codependent(c) => c.actions.iter().for_each(|a| urls(a, out)),
        Timeout(t) => urls(&t.action, out),
        Try(t) => urls(&t.action, out),
        EmitProgress(e) => urls(&e.action, out),
        Run(_) => {}
    }
}

#[tokio::test]
async fn builds_stage_through_a_diego_task() {
    use ingot_bbs::BbsApi;
    let w = World::new().await;
    w.buildpack("binary_buildpack").await;
    let package = w.ready_package(&[("run", b"#!/bin/sh\n")]).await;

    let res =
        w.cc.post(
            "/v3/builds",
            &w.auditor,
            json!({"package": {"guid": package}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res =
        w.cc.post("/v3/builds", &w.dev, json!({"package": {"guid": "nope"}}))
            .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Without cells the auction fails the task, and the BBS's callback fails the build.
    let res =
        w.cc.post("/v3/builds", &w.dev, json!({"package": {"guid": package}}))
            .await;
    let unplaced = guid(&res.body);
    let error = ingot_core::testing::eventually("the unplaced build to fail", || async {
        let res = w.cc.get(&format!("/v3/builds/{unplaced}"), &w.dev).await;
        (res.body["state"] == "FAILED").then(|| res.body["error"].clone())
    })
    .await;
    assert!(error.as_str().is_some_and(|e| e.contains(" - ")), "{error}");

    // Staging gets the space's staging security groups (the defaults and one bound there),
    // not its running ones.
    let space = w.cc.get(&format!("/v3/apps/{}", w.app), &w.dev).await.body["relationships"]
        ["space"]["data"]["guid"]
        .clone();
    let mut bound = Vec::new();
    for (name, lifecycle, destination) in [
        ("mirror", "staging", "10.1.1.1"),
        ("database", "running", "10.2.2.2"),
    ] {
        let res = w
            .cc
            .post(
                "/v3/security_groups",
                &w.cc.admin,
                json!({"name": name, "rules": [{"protocol": "all", "destination": destination}],
                       "relationships": {format!("{lifecycle}_spaces"): {"data": [{"guid": space}]}}}),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        bound.push(guid(&res.body));
    }

    bridge_support::idle_cell(&w.cc).await;
    let res =
        w.cc.post("/v3/builds", &w.dev, json!({"package": {"guid": package}}))
            .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(res.body["state"], "STAGING");
    assert_eq!(res.body["droplet"], Value::Null);
    assert_eq!(res.body["package"]["guid"], package.as_str());
    let build = guid(&res.body);

    let task = w.cc.bbs.task_by_guid(&build).await.expect("staging task");
    assert_eq!(task.domain, "cf-app-staging");
    let def = &task.task_definition;
    assert_eq!(
        (def.root_fs.as_str(), def.log_source.as_str()),
        ("preloaded:cflinuxfs4", "STG")
    );
    assert_eq!(def.log_guid, w.app);
    assert!(
        def.env
            .iter()
            .any(|e| e.name == "CF_STACK" && e.value == "cflinuxfs4")
    );
    let destinations: Vec<&str> = def
        .egress_rules
        .iter()
        .flat_map(|r| r.destinations.iter().map(String::as_str))
        .collect();
    assert_eq!(def.egress_rules.len(), 7 + 2 + 1, "{destinations:?}");
    assert!(destinations.contains(&"10.1.1.1") && destinations.contains(&"0.0.0.0/0"));
    assert!(!destinations.contains(&"10.2.2.2"), "{destinations:?}");
    let mirror = def
        .egress_rules
        .iter()
        .find(|r| r.destinations == ["10.1.1.1"])
        .unwrap();
    assert_eq!(
        mirror.annotations,
        [format!("security_group_id:{}", bound[0])]
    );
    let mut found = Vec::new();
    urls(def.action.as_ref().unwrap(), &mut found);
    let droplet_upload = found
        .iter()
        .find(|u| u.contains("/droplets/") && u.contains("/upload"))
        .unwrap()
        .clone();
    let package_url = found
        .iter()
        .find(|u| u.contains("/internal/v4/packages/"))
        .unwrap()
        .clone();

    // Internal URLs: the signed one works without a token; tampering gives 403.
    let (status, bytes) = w
        .send(reqwest::Method::GET, &package_url, None, "", Vec::new())
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(bytes.starts_with(b"PK"));
    let forged = package_url.replace("signature=", "signature=0");
    assert_eq!(
        w.send(reqwest::Method::GET, &forged, None, "", Vec::new())
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let unsigned = package_url.split('?').next().unwrap().to_owned();
    assert_eq!(
        w.send(reqwest::Method::GET, &unsigned, None, "", Vec::new())
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let expired = {
        let (base, _) = droplet_upload.split_once("expires=").unwrap();
        let sig = droplet_upload.split("signature=").nth(1).unwrap();
        format!("{base}expires=1&signature={sig}")
    };
    assert_eq!(
        w.send(
            reqwest::Method::POST,
            &expired,
            None,
            "application/gzip",
            b"x".to_vec()
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    // An expiring URL is for its method only: the cache download cannot upload.
    let cache_download = found
        .iter()
        .find(|u| u.contains("/build_cache/"))
        .unwrap()
        .clone();
    assert_eq!(
        w.send(
            reqwest::Method::POST,
            &cache_download,
            None,
            "application/gzip",
            b"x".to_vec()
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );

    // The cell uploads the droplet, then the BBS posts the completed task.
    let (status, body) = w
        .send(
            reqwest::Method::POST,
            &droplet_upload,
            None,
            "application/gzip",
            b"droplet-tgz".to_vec(),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let mut done = task.clone();
    done.failed = false;
    done.result = json!({
        "lifecycle_metadata": {"detected_buildpack": "", "buildpack_key": "binary_buildpack",
            "buildpacks": [{"key": "binary_buildpack", "name": "binary", "version": "1.0"}]},
        "process_types": {"web": "./run"},
        "execution_metadata": "",
    })
    .to_string();
    let callback = def.completion_callback_url.clone();
    let (status, _) = w
        .send(
            reqwest::Method::POST,
            &callback,
            None,
            "application/json",
            serde_json::to_vec(&done).unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let res = w.cc.get(&format!("/v3/builds/{build}"), &w.dev).await;
    assert_eq!(res.body["state"], "STAGED", "{}", res.body);
    let droplet = res.body["droplet"]["guid"].as_str().unwrap().to_owned();
    let res = w.cc.get(&format!("/v3/droplets/{droplet}"), &w.dev).await;
    assert_eq!(res.body["state"], "STAGED");
    assert_eq!(res.body["process_types"], json!({"web": "./run"}));
    assert_eq!(res.body["buildpacks"][0]["name"], "binary_buildpack");
    assert_eq!(res.body["buildpacks"][0]["buildpack_name"], "binary");
    assert_eq!(res.body["stack"], "cflinuxfs4");
    assert_eq!(res.body["checksum"]["type"], "sha256");
    let res =
        w.cc.get(
            &format!("/v3/packages/{package}/droplets?states=STAGED&per_page=1"),
            &w.dev,
        )
        .await;
    assert_eq!(
        res.body["resources"][0]["guid"],
        droplet.as_str(),
        "{}",
        res.body
    );
    let (status, bytes) = w
        .download(&format!("/v3/droplets/{droplet}/download"))
        .await;
    assert_eq!(
        (status, bytes.as_slice()),
        (StatusCode::OK, b"droplet-tgz".as_slice())
    );
    assert_eq!(
        w.cc.get(&format!("/v3/droplets/{droplet}"), &w.outsider)
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // A failing buildpack: the task's exit status becomes CC's reason.
    let res =
        w.cc.post("/v3/builds", &w.dev, json!({"package": {"guid": package}}))
            .await;
    let failed_build = guid(&res.body);
    let task = w.cc.bbs.task_by_guid(&failed_build).await.unwrap();
    let mut done = task.clone();
    done.failed = true;
    done.failure_reason = "Exited with status 223".into();
    let (status, _) = w
        .send(
            reqwest::Method::POST,
            &task.task_definition.completion_callback_url,
            None,
            "application/json",
            serde_json::to_vec(&done).unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let res =
        w.cc.get(&format!("/v3/builds/{failed_build}"), &w.dev)
            .await;
    assert_eq!(res.body["state"], "FAILED");
    assert_eq!(
        res.body["error"],
        "BuildpackCompileFailed - App staging failed in the buildpack compile phase"
    );

    // Deleting a droplet is a job.
    let res =
        w.cc.delete(&format!("/v3/droplets/{droplet}"), &w.dev)
            .await;
    let (_, job) = w.cc.wait_for_job(&location(&res), &w.dev).await;
    assert_eq!(job["state"], "COMPLETE");
    assert_eq!(
        w.cc.get(&format!("/v3/droplets/{droplet}"), &w.dev)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}
