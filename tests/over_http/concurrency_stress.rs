//! Concurrency stress: many threads call `server_now_ms`,
//! `estimate`, `evaluate_events_json` and `sync` at once against a slow
//! loopback server.
//!
//! - No deadlock: every thread reports over a channel and the test waits for
//!   each with a timeout, so a hang fails the test instead of freezing it.
//! - Readers never wait for the network: a reader blocked behind a sync would
//!   take at least one server delay; reader latency must stay far below it.
//! - Single flight: the transport (the built-in ureq one, wrapped) never has
//!   two requests in flight at once, and the server saw exactly the requests
//!   of the distinct bursts the callers were told about.
//!
//! `scripts/stress-loop.sh` runs this file 100 times in a row.

mod with_http {
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::mpsc;
    use std::sync::{Arc, Barrier, Mutex, Weak};
    use std::time::{Duration, Instant};

    use mxclock::{ClockConfig, Error, ServerClock, SyncReport};
    use mxclock::{HttpRequest, HttpResponse, HttpTransport, TransportError, UreqTransport};
    use mxclock_test_homeserver::{Delay, Fault, HomeserverConfig, TestHomeserver};

    /// One-way delay of the slow server, each direction.
    const ONE_WAY_MS: f64 = 300.0;
    /// A reader call slower than this waited for something it must not wait
    /// for (a request takes at least 2 × `ONE_WAY_MS`).
    const READER_LIMIT: Duration = Duration::from_millis(100);
    /// No thread may take longer than this to finish: a hang, not slowness.
    const JOIN_LIMIT: Duration = Duration::from_secs(60);

    const SYNC_THREADS: usize = 6;
    const SYNCS_PER_THREAD: usize = 2;
    const READER_THREADS: usize = 4;
    const EVENT_THREADS: usize = 2;

    /// The built-in transport, counting requests in flight at once. With a
    /// probe clock set, each request first has another thread call the readers
    /// of that clock and waits for them: a sync that held any lock the readers
    /// need across network I/O would make the probe time out, whatever the
    /// machine's load (latency thresholds alone cannot tell a blocked reader
    /// from a starved one).
    struct CountingTransport {
        inner: Box<dyn HttpTransport>,
        in_flight: AtomicUsize,
        max_in_flight: AtomicUsize,
        total: AtomicUsize,
        probe: Mutex<Option<Weak<ServerClock>>>,
        probes_ok: AtomicUsize,
        probes_stuck: AtomicUsize,
    }

    /// How long a probe may take before the readers count as blocked.
    const PROBE_LIMIT: Duration = Duration::from_secs(10);

    impl CountingTransport {
        fn new(inner: Box<dyn HttpTransport>) -> Arc<CountingTransport> {
            Arc::new(CountingTransport {
                inner,
                in_flight: AtomicUsize::new(0),
                max_in_flight: AtomicUsize::new(0),
                total: AtomicUsize::new(0),
                probe: Mutex::new(None),
                probes_ok: AtomicUsize::new(0),
                probes_stuck: AtomicUsize::new(0),
            })
        }

        /// Calls every reader of `clock` on another thread while this request
        /// is (about to be) on the network.
        fn probe_readers(&self) {
            let Some(clock) = self.probe.lock().unwrap().as_ref().and_then(Weak::upgrade) else {
                return;
            };
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                let ok = clock.server_now_ms().is_ok()
                    && clock.estimate().is_some()
                    && clock
                        .evaluate_events_json(timeline_json(), Some(clock.boot_ms()))
                        .is_ok()
                    && clock.export_state().is_ok()
                    && clock.expiry_at(0).is_ok();
                let _ = clock.next_sync_due_in_ms();
                let _ = clock.sync_reason();
                let _ = tx.send(ok);
            });
            match rx.recv_timeout(PROBE_LIMIT) {
                Ok(true) => self.probes_ok.fetch_add(1, Ordering::SeqCst),
                Ok(false) | Err(_) => self.probes_stuck.fetch_add(1, Ordering::SeqCst),
            };
        }
    }

    impl HttpTransport for CountingTransport {
        fn get(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_in_flight.fetch_max(now, Ordering::SeqCst);
            self.total.fetch_add(1, Ordering::SeqCst);
            self.probe_readers();
            let r = self.inner.get(request);
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            r
        }
    }

    /// Spawns `f` and returns a receiver for its result.
    fn spawn<T: Send + 'static>(
        name: String,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> mpsc::Receiver<std::thread::Result<T>> {
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name(name)
            .spawn(move || {
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
                let _ = tx.send(r);
            })
            .unwrap();
        rx
    }

    /// Waits for a thread's result, failing on a hang or a panic.
    fn join<T>(what: &str, rx: mpsc::Receiver<std::thread::Result<T>>) -> T {
        match rx.recv_timeout(JOIN_LIMIT) {
            Ok(Ok(v)) => v,
            Ok(Err(_)) => panic!("{what} panicked"),
            Err(_) => panic!("{what} did not finish within {JOIN_LIMIT:?}: deadlock?"),
        }
    }

    fn timeline_json() -> String {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/events/timeline.json"
        );
        std::fs::read_to_string(path).unwrap()
    }

    /// Latency statistics of one kind of reader call.
    #[derive(Default, Debug)]
    struct Latency {
        calls: u64,
        max: Duration,
        over_limit: u64,
    }

    impl Latency {
        fn record(&mut self, d: Duration) {
            self.calls += 1;
            self.max = self.max.max(d);
            if d > READER_LIMIT {
                self.over_limit += 1;
            }
        }
    }

    #[test]
    fn readers_events_and_syncs_at_once_against_a_slow_server() {
        let server = TestHomeserver::start(HomeserverConfig {
            skew_ms: 42_000.0,
            uplink: Delay::fixed(ONE_WAY_MS),
            downlink: Delay::fixed(ONE_WAY_MS),
            ..HomeserverConfig::default()
        })
        .unwrap();
        let mut cfg = ClockConfig::new(&server.base_url());
        cfg.request_timeout_ms = 5_000;
        cfg.policy.max_samples_per_sync = 2;
        let transport = CountingTransport::new(Box::new(UreqTransport::new()));
        let clock = ServerClock::new_with_sources(cfg, None, Some(transport.clone())).unwrap();
        clock.sync().unwrap();
        *transport.probe.lock().unwrap() = Some(Arc::downgrade(&clock));
        let baseline = server.request_count().total;
        assert_eq!(baseline as usize, transport.total.load(Ordering::SeqCst));

        let stop = Arc::new(AtomicBool::new(false));
        let start = Arc::new(Barrier::new(
            SYNC_THREADS + READER_THREADS + EVENT_THREADS + 1,
        ));

        let readers: Vec<_> = (0..READER_THREADS)
            .map(|i| {
                let (clock, stop, start) = (clock.clone(), stop.clone(), start.clone());
                spawn(format!("reader-{i}"), move || {
                    start.wait();
                    let (mut now_lat, mut est_lat) = (Latency::default(), Latency::default());
                    while !stop.load(Ordering::SeqCst) {
                        let t = Instant::now();
                        let now = clock.server_now_ms();
                        now_lat.record(t.elapsed());
                        assert!(now.is_ok(), "{now:?}");
                        let t = Instant::now();
                        let e = clock.estimate();
                        est_lat.record(t.elapsed());
                        assert!(e.is_some_and(|e| e.uncertainty_ms >= 0));
                        std::thread::sleep(Duration::from_micros(200));
                    }
                    (now_lat, est_lat)
                })
            })
            .collect();

        let timeline = timeline_json();
        let events: Vec<_> = (0..EVENT_THREADS)
            .map(|i| {
                let (clock, stop, start) = (clock.clone(), stop.clone(), start.clone());
                let timeline = timeline.clone();
                spawn(format!("events-{i}"), move || {
                    start.wait();
                    let mut lat = Latency::default();
                    while !stop.load(Ordering::SeqCst) {
                        let t = Instant::now();
                        let outcomes = clock
                            .evaluate_events_json(timeline.clone(), Some(clock.boot_ms()))
                            .unwrap();
                        lat.record(t.elapsed());
                        assert!(outcomes.iter().any(|o| o.result.is_some()));
                        // The other calls apps make from UI threads.
                        let _ = clock.export_state().unwrap();
                        let _ = clock.next_sync_due_in_ms();
                        let _ = clock.expiry_at(clock.server_now_ms().unwrap() + 1_000);
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    lat
                })
            })
            .collect();

        let syncers: Vec<_> = (0..SYNC_THREADS)
            .map(|i| {
                let (clock, start) = (clock.clone(), start.clone());
                spawn(format!("sync-{i}"), move || {
                    start.wait();
                    (0..SYNCS_PER_THREAD)
                        .map(|_| {
                            let t = Instant::now();
                            let r = clock.sync();
                            (r, t.elapsed())
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();

        start.wait();
        let began = Instant::now();
        let mut reports: Vec<SyncReport> = Vec::new();
        for (i, rx) in syncers.into_iter().enumerate() {
            for (r, _took) in join(&format!("sync-{i}"), rx) {
                reports.push(r.expect("sync failed"));
            }
        }
        let sync_phase = began.elapsed();
        stop.store(true, Ordering::SeqCst);
        let mut now_lat = Latency::default();
        let mut est_lat = Latency::default();
        for (i, rx) in readers.into_iter().enumerate() {
            let (n, e) = join(&format!("reader-{i}"), rx);
            now_lat.calls += n.calls;
            now_lat.max = now_lat.max.max(n.max);
            now_lat.over_limit += n.over_limit;
            est_lat.calls += e.calls;
            est_lat.max = est_lat.max.max(e.max);
            est_lat.over_limit += e.over_limit;
        }
        let mut ev_lat = Latency::default();
        for (i, rx) in events.into_iter().enumerate() {
            let l = join(&format!("events-{i}"), rx);
            ev_lat.calls += l.calls;
            ev_lat.max = ev_lat.max.max(l.max);
            ev_lat.over_limit += l.over_limit;
        }

        // Distinct bursts: callers sharing a burst got the same report.
        let mut bursts: BTreeMap<(i64, i64), u32> = BTreeMap::new();
        for r in &reports {
            let key = (r.estimate.boot_ms, r.estimate.newest_sample_boot_ms);
            let prev = bursts.insert(key, r.requests);
            assert!(prev.is_none_or(|p| p == r.requests), "{reports:?}");
        }
        let burst_requests: u64 = bursts.values().map(|&n| u64::from(n)).sum();
        let server_saw = server.request_count().total - baseline;
        let calls = SYNC_THREADS * SYNCS_PER_THREAD;
        eprintln!(
            "{calls} sync calls in {} ms → {} bursts, {server_saw} requests; max in flight {}; \
             slow reader calls (> {READER_LIMIT:?}): {}; \
             server_now_ms: {} calls, max {:?}; estimate: {} calls, max {:?}; \
             evaluate_events_json: {} calls, max {:?}",
            sync_phase.as_millis(),
            bursts.len(),
            transport.max_in_flight.load(Ordering::SeqCst),
            now_lat.over_limit + est_lat.over_limit + ev_lat.over_limit,
            now_lat.calls,
            now_lat.max,
            est_lat.calls,
            est_lat.max,
            ev_lat.calls,
            ev_lat.max
        );
        assert_eq!(
            transport.max_in_flight.load(Ordering::SeqCst),
            1,
            "two bursts overlapped"
        );
        assert_eq!(
            server_saw, burst_requests,
            "the server saw requests no caller was told about"
        );
        assert!(
            bursts.len() < calls,
            "{} bursts for {calls} calls: nobody shared",
            bursts.len()
        );
        // Each thread's calls are sequential, so at least SYNCS_PER_THREAD bursts.
        assert!(bursts.len() >= SYNCS_PER_THREAD);
        // Readers ran while every request of the stress phase was on the wire.
        assert_eq!(transport.probes_stuck.load(Ordering::SeqCst), 0);
        assert_eq!(
            transport.probes_ok.load(Ordering::SeqCst) as u64,
            server_saw,
            "one probe per request"
        );
        // And they stayed fast throughout. A reader blocked behind a sync would
        // be slow for the whole burst, call after call; a busy machine can
        // deschedule a thread now and then, so allow 1 % of slow calls.
        for (what, l) in [
            ("server_now_ms", &now_lat),
            ("estimate", &est_lat),
            ("evaluate_events_json", &ev_lat),
        ] {
            assert!(l.calls > 0, "{what} never ran");
            assert!(
                l.over_limit * 100 <= l.calls,
                "{what}: {} of {} calls over {READER_LIMIT:?} (max {:?}): waited for the network",
                l.over_limit,
                l.calls,
                l.max
            );
        }
    }

    /// When the burst fails (the server never answers), every caller waiting on
    /// it gets the same error, promptly, and the next sync starts afresh.
    #[test]
    fn waiters_get_the_leaders_error_and_nobody_hangs() {
        let server = TestHomeserver::start(HomeserverConfig {
            fault: Fault::NeverAnswer,
            ..HomeserverConfig::default()
        })
        .unwrap();
        let mut cfg = ClockConfig::new(&server.base_url());
        cfg.request_timeout_ms = 700;
        let transport = CountingTransport::new(Box::new(UreqTransport::new()));
        let clock = ServerClock::new_with_sources(cfg, None, Some(transport.clone())).unwrap();
        let start = Arc::new(Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let (clock, start) = (clock.clone(), start.clone());
                spawn(format!("sync-{i}"), move || {
                    start.wait();
                    let t = Instant::now();
                    (clock.sync(), t.elapsed())
                })
            })
            .collect();
        for (i, rx) in threads.into_iter().enumerate() {
            let (r, took) = join(&format!("sync-{i}"), rx);
            assert!(matches!(r, Err(Error::Timeout { .. })), "{r:?}");
            // A caller that came late may lead a second burst: two timeouts.
            assert!(took < Duration::from_millis(2 * 700 + 300), "{took:?}");
        }
        assert_eq!(transport.max_in_flight.load(Ordering::SeqCst), 1);
        assert!(transport.total.load(Ordering::SeqCst) < 8);
        // Nothing is left in flight: a new sync runs (and fails) on its own.
        server.set_fault(Fault::None);
        clock.sync().unwrap();
    }

    /// Keeps the intentional panic below out of the output (so a real panic
    /// message stands out); every other panic is reported as usual.
    fn quiet_intentional_panics() {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                let msg = info.payload().downcast_ref::<&str>().copied().unwrap_or("");
                if !msg.contains("(intentional, from the stress test)") {
                    previous(info);
                }
            }));
        });
    }

    /// A transport that panics (a bug in an app's Rust transport) does not leave
    /// the callers sharing its burst waiting forever; the clock keeps working.
    #[test]
    fn a_panicking_transport_does_not_strand_waiters() {
        struct Panicky {
            inner: UreqTransport,
            calls: AtomicUsize,
            gate: Mutex<()>,
        }
        impl HttpTransport for Panicky {
            fn get(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
                if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    // Give the other callers time to join this burst.
                    let _g = self.gate.lock().unwrap();
                    std::thread::sleep(Duration::from_millis(200));
                    panic!("transport bug (intentional, from the stress test)");
                }
                self.inner.get(request)
            }
        }
        quiet_intentional_panics();
        let server = TestHomeserver::start(HomeserverConfig::default()).unwrap();
        let transport = Arc::new(Panicky {
            inner: UreqTransport::new(),
            calls: AtomicUsize::new(0),
            gate: Mutex::new(()),
        });
        let clock = ServerClock::new_with_sources(
            ClockConfig::new(&server.base_url()),
            None,
            Some(transport.clone()),
        )
        .unwrap();
        let start = Arc::new(Barrier::new(4));
        let threads: Vec<_> = (0..4)
            .map(|i| {
                let (clock, start) = (clock.clone(), start.clone());
                spawn(format!("sync-{i}"), move || {
                    start.wait();
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| clock.sync()))
                })
            })
            .collect();
        let mut panicked = 0;
        for (i, rx) in threads.into_iter().enumerate() {
            match join(&format!("sync-{i}"), rx) {
                Err(_) => panicked += 1,
                Ok(Err(Error::Internal(_))) | Ok(Ok(_)) => {}
                Ok(other) => panic!("{other:?}"),
            }
        }
        assert_eq!(panicked, 1, "only the leader's own call unwinds");
        // The estimate, the lock and single flight all still work.
        clock.sync().unwrap();
        assert!(clock.server_now_ms().is_ok());
    }
}
