//! Refresh reads in batches: 1,000 EC2 instances on the emulator come back
//! with at most one DescribeInstances call per 100 ids (Terraform makes one
//! call per resource). The calls are counted at the HTTP level by a small
//! proxy between the provider and moto.
//!
//! The reads are sent as the engine's refresh sends them: batches of
//! `REFRESH_BATCH` (100) items, several at once (the engine's grouping into
//! such batches is tested in crates/engine/tests/recover_refresh.rs; this
//! crate does not depend on the engine, as DESIGN.md asks of providers).

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use kiln_model::Value;
use kiln_provider::{Provider, ReadItem, ReadRequest};
use kiln_provider_aws::{AwsOptions, AwsProvider};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const INSTANCES: usize = 1_000;
const AMI: &str = "ami-1e749f67";
const NEEDLE: &[u8] = b"Action=DescribeInstances";

/// Occurrences of `NEEDLE` in `data`, with `carry` holding the end of the
/// previous read so a match split across two reads is still found once.
fn count_in(carry: &mut Vec<u8>, data: &[u8]) -> usize {
    carry.extend_from_slice(data);
    let hits = carry.windows(NEEDLE.len()).filter(|w| *w == NEEDLE).count();
    let keep = carry.len().min(NEEDLE.len() - 1);
    carry.drain(..carry.len() - keep);
    hits
}

/// A TCP proxy on a free loopback port that forwards every connection to
/// `upstream` and counts the DescribeInstances requests sent through it.
async fn counting_proxy(upstream: u16) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)).await else {
                    return;
                };
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let up = async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    let mut carry = Vec::new();
                    loop {
                        let n = match cr.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        counter.fetch_add(count_in(&mut carry, &buf[..n]), Ordering::SeqCst);
                        if sw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                    let _ = sw.shutdown().await;
                };
                let down = async move {
                    let _ = tokio::io::copy(&mut sr, &mut cw).await;
                    let _ = cw.shutdown().await;
                };
                tokio::join!(up, down);
            });
        }
    });
    (port, count)
}

/// Launches `INSTANCES` instances straight through the SDK (100 per
/// RunInstances call), and returns their ids.
async fn launch() -> Vec<String> {
    let clients = common::clients().await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..INSTANCES / 100 {
        let ec2 = clients.ec2.clone();
        tasks.spawn(async move {
            let out = ec2
                .run_instances()
                .image_id(AMI)
                .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
                .min_count(100)
                .max_count(100)
                .send()
                .await
                .expect("RunInstances on moto");
            out.instances()
                .iter()
                .map(|i| i.instance_id().unwrap().to_string())
                .collect::<Vec<_>>()
        });
    }
    let mut ids = Vec::new();
    while let Some(batch) = tasks.join_next().await {
        ids.extend(batch.unwrap());
    }
    ids
}

/// The engine's refresh batch size (kiln_engine::REFRESH_BATCH).
const REFRESH_BATCH: usize = 100;

fn read_item(id: &str) -> ReadItem {
    ReadItem {
        type_name: "aws_instance".into(),
        id: id.to_string(),
        state: Value::Map(
            (BTreeMap::from([
                ("id".to_string(), Value::from(id)),
                ("ami".to_string(), Value::from(AMI)),
                ("instance_type".to_string(), Value::from("t3.micro")),
            ]))
            .into(),
        ),
    }
}

// The measured count and time are printed for the record (issue 8).
#[allow(clippy::print_stderr)]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refresh_of_1000_instances_reads_in_batches_of_100() {
    let moto = common::moto();
    let ids = launch().await;
    assert_eq!(ids.len(), INSTANCES);

    let (proxy, describes) = counting_proxy(moto.port).await;
    let provider = AwsProvider::with_options(AwsOptions {
        endpoint_url: Some(format!("http://127.0.0.1:{proxy}")),
        ..common::options()
    });
    let provider = Arc::new(provider);

    let started = Instant::now();
    let mut batches = tokio::task::JoinSet::new();
    for chunk in ids.chunks(REFRESH_BATCH) {
        let (provider, chunk) = (provider.clone(), chunk.to_vec());
        batches.spawn(async move {
            let items = chunk.iter().map(|id| read_item(id)).collect();
            (chunk, provider.read(ReadRequest { items }).await)
        });
    }
    let mut read = Vec::new();
    while let Some(batch) = batches.join_next().await {
        let (chunk, resp) = batch.unwrap();
        assert!(
            !resp.diagnostics.has_errors(),
            "read failed: {}",
            resp.diagnostics
        );
        assert_eq!(resp.results.len(), chunk.len(), "one result per item");
        read.extend(chunk.into_iter().zip(resp.results));
    }
    let elapsed = started.elapsed();
    let calls = describes.load(Ordering::SeqCst);
    eprintln!(
        "refresh of {INSTANCES} aws_instance objects: {calls} DescribeInstances calls in {elapsed:?}"
    );

    assert_eq!(read.len(), INSTANCES);
    for (id, result) in &read {
        assert!(
            !result.diagnostics.has_errors(),
            "{id}: {}",
            result.diagnostics
        );
        let attrs = result
            .state
            .clone()
            .unwrap_or_else(|| panic!("{id} reported gone"))
            .into_unmarked();
        assert_eq!(
            attrs.get("instance_state"),
            Some(&Value::from("running")),
            "{id}: {attrs:?}"
        );
        assert_eq!(attrs.get("id"), Some(&Value::from(id.as_str())));
    }
    assert!(calls > 0, "the proxy saw no DescribeInstances call");
    assert!(
        calls <= INSTANCES.div_ceil(100),
        "{calls} DescribeInstances calls for {INSTANCES} instances (at most one per 100 ids)"
    );
}

#[test]
fn the_counter_finds_a_split_needle_once() {
    let mut carry = Vec::new();
    assert_eq!(count_in(&mut carry, b"xxAction=Describe"), 0);
    assert_eq!(
        count_in(&mut carry, b"Instances&Action=DescribeInstances"),
        2
    );
    assert_eq!(count_in(&mut carry, b"Instances"), 0);
}
