//! Dropping a server stops every thread it started, even connections that a
//! fault keeps busy. One test in its own binary so the process's thread count
//! is not disturbed by other tests running in parallel.

mod common;

use std::io::Write;
use std::sync::mpsc;
use std::time::Duration;

use common::*;
use mxclock_test_homeserver::{Delay, Fault, HomeserverConfig, TestHomeserver};

/// Threads of this process, where the OS tells (Linux `/proc`).
fn thread_count() -> Option<usize> {
    let count = std::fs::read_dir("/proc/self/task").ok().map(|d| d.count());
    if count.is_none() {
        eprintln!("SKIPPED: thread counting needs /proc (Linux); only checking that drops return");
    }
    count
}

#[test]
fn fifty_servers_start_and_stop_without_leaking_threads() {
    let baseline = thread_count();
    let (done_tx, done_rx) = mpsc::channel();
    // Run in a thread so a drop that hangs fails the test instead of hanging it.
    let worker = std::thread::spawn(move || {
        let mut clients = Vec::new();
        for i in 0..50 {
            let fault = match i % 5 {
                0 => Fault::NeverAnswer,
                1 => Fault::SlowBody,
                2 => Fault::HugeBody,
                3 => Fault::None,
                _ => Fault::Status(503),
            };
            let server = TestHomeserver::start(HomeserverConfig {
                fault: fault.clone(),
                // A long downlink delay: a request is in flight at drop time.
                downlink: Delay::fixed(if i % 5 == 4 { 60_000.0 } else { 0.0 }),
                ..HomeserverConfig::default()
            })
            .unwrap();
            // An idle keep-alive connection and one request in the fault's
            // hands, both left open by the client when the server drops.
            let idle = connect(server.port());
            let mut busy = connect(server.port());
            busy.write_all(request_text("GET", TIME_PATH, &[], false).as_bytes())
                .unwrap();
            // Wait until the server has the request, so the fault is active.
            while server.request_count().total == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
            if let (Some(now), Some(base)) = (thread_count(), baseline) {
                assert!(now > base);
            }
            drop(server);
            clients.push((idle, busy));
        }
        done_tx.send(clients.len()).unwrap();
        clients
    });
    let n = done_rx
        .recv_timeout(Duration::from_secs(120))
        .expect("dropping 50 servers did not finish within 120 s");
    assert_eq!(n, 50);
    let clients = worker.join().unwrap();
    assert_eq!(thread_count(), baseline, "threads leaked");
    // Every client connection was closed by the server side.
    for (mut idle, mut busy) in clients {
        assert!(read_all_raw(&mut idle).0.is_empty());
        let _ = read_all_raw(&mut busy);
    }
}
