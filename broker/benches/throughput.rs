//! QoS 1 publish → delivery through smsgw-broker (in-process, loopback) next to Mosquitto
//! (127.0.0.1:1883, when it runs), in the same run: `cargo bench -p smsgw-broker`.
//!
//! One publisher and one subscriber (rumqttc, as the API and the agent use), payloads of
//! the size of a send command: an API replica sends commands to one site's agent, through
//! smsgw-broker's front (credential and topic rules checked, relayed to rumqttd). Two
//! phases per broker:
//! - flood: `FLOOD` messages as fast as the publisher can queue them; throughput is
//!   messages delivered per second from the first publish to the last delivery, and the
//!   latencies show queueing under load;
//! - paced: `PACED` messages at `PACED_RATE` per second; latency of a lightly loaded broker.
//!
//! Latency is publish call → delivery to the subscriber, both in this process (the send
//! time travels in the payload). The in-process broker shares this machine's CPUs with
//! the clients; Mosquitto runs in its own process.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use smsgw_broker::{BrokerConfig, TopicRoot, config::SegmentOverride};
use smsgw_shared::credentials::{MQTT_AUDIENCE, MqttClaims};

const SECRET: &str = "benchmark-secret-0123456789abcdef";
const FLOOD: usize = 20_000;
const PACED: usize = 1_000;
const PACED_RATE: u64 = 1_000;
const PAYLOAD: usize = 256;
const WARMUP: usize = 500;
const MOSQUITTO: &str = "127.0.0.1:1883";
/// The topic root of the benchmark's deployment.
const ROOT: &str = "bench";
/// smsgw-broker's flood throughput must stay at least this many times Mosquitto's.
const TARGET_RATIO: f64 = 1.5;

struct Run {
    delivered: usize,
    throughput: f64,
    p50: Duration,
    p99: Duration,
}

struct Results {
    flood: Run,
    paced: Run,
}

fn token(sub: &str) -> String {
    let now = jsonwebtoken::get_current_timestamp() as i64;
    let claims = MqttClaims {
        sub: sub.into(),
        aud: MQTT_AUDIENCE.into(),
        iat: now,
        exp: now + 3600,
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("token")
}

fn options(addr: SocketAddr, client_id: &str, auth: bool) -> MqttOptions {
    let mut options = MqttOptions::new(client_id, addr.ip().to_string(), addr.port());
    options.set_keep_alive(Duration::from_secs(30));
    if auth {
        options.set_credentials(client_id, token(client_id));
    }
    options
}

/// Connects and drives the event loop in a task; the subscriber's task sends the latency
/// of every received message.
async fn connect(
    options: MqttOptions,
    epoch: Instant,
    deliveries: Option<tokio::sync::mpsc::UnboundedSender<Duration>>,
) -> AsyncClient {
    let (client, mut event_loop) = AsyncClient::new(options, 1_000);
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut ready = Some(ready_tx);
        loop {
            match event_loop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    if let Some(tx) = ready.take() {
                        let _ = tx.send(());
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if let (Some(tx), Some(sent)) = (&deliveries, p.payload.get(..8)) {
                        let sent = u64::from_be_bytes(sent.try_into().unwrap_or_default());
                        let latency = epoch.elapsed() - Duration::from_nanos(sent);
                        let _ = tx.send(latency);
                    }
                }
                Ok(_) => {}
                // Also after DISCONNECT; a connection lost mid-run shows as missing messages.
                Err(_) => return,
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(5), ready_rx)
        .await
        .expect("CONNACK in time")
        .expect("connected");
    client
}

fn payload(epoch: Instant) -> Vec<u8> {
    let mut payload = vec![b'x'; PAYLOAD];
    let sent = epoch.elapsed().as_nanos() as u64;
    payload[..8].copy_from_slice(&sent.to_be_bytes());
    payload
}

async fn measure(name: &str, addr: SocketAddr, auth: bool) -> Results {
    let epoch = Instant::now();
    let tag = format!("{}{}", name.replace('-', ""), std::process::id());
    let topic = format!("{ROOT}/{tag}/command/send");
    let (tx, mut delivered) = tokio::sync::mpsc::unbounded_channel();
    let subscriber = connect(
        options(addr, &format!("agent-{tag}"), auth),
        epoch,
        Some(tx),
    )
    .await;
    subscriber
        .subscribe(&topic, QoS::AtLeastOnce)
        .await
        .expect("subscribe");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let publisher = connect(options(addr, &format!("api-pub{tag}"), auth), epoch, None).await;

    let mut phase = async |count: usize, pace: Option<Duration>| -> Run {
        let started = Instant::now();
        let mut ticker = pace.map(tokio::time::interval);
        let publishing = async {
            for _ in 0..count {
                if let Some(ticker) = ticker.as_mut() {
                    ticker.tick().await;
                }
                publisher
                    .publish(&topic, QoS::AtLeastOnce, false, payload(epoch))
                    .await
                    .expect("publish queued");
            }
        };
        let receiving = async {
            let mut latencies = Vec::with_capacity(count);
            let mut last_delivery = Instant::now();
            while latencies.len() < count {
                match tokio::time::timeout(Duration::from_secs(5), delivered.recv()).await {
                    Ok(Some(latency)) => {
                        latencies.push(latency);
                        last_delivery = Instant::now();
                    }
                    _ => break,
                }
            }
            (latencies, last_delivery)
        };
        let ((), (mut latencies, last_delivery)) = tokio::join!(publishing, receiving);
        // Up to the last delivery: a broker that drops messages is not charged the wait
        // for the ones that never come (the drop is reported above the table).
        let elapsed = last_delivery.duration_since(started);
        let delivered_count = latencies.len();
        if delivered_count < count {
            println!("{name}: only {delivered_count} of {count} messages delivered");
        }
        if latencies.is_empty() {
            latencies.push(Duration::MAX / 2);
        }
        latencies.sort();
        let at =
            |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
        Run {
            delivered: delivered_count,
            throughput: delivered_count as f64 / elapsed.as_secs_f64(),
            p50: at(0.50),
            p99: at(0.99),
        }
    };
    phase(WARMUP, None).await;
    let flood = phase(FLOOD, None).await;
    let paced = phase(
        PACED,
        Some(Duration::from_nanos(1_000_000_000 / PACED_RATE)),
    )
    .await;
    let _ = publisher.disconnect().await;
    let _ = subscriber.disconnect().await;
    Results { flood, paced }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn row(name: &str, phase: &str, run: &Run) {
    println!(
        "| {name:<13} | {phase:<6} | {:>9} | {:>10.0} | {:>8.2} | {:>8.2} |",
        run.delivered,
        run.throughput,
        ms(run.p50),
        ms(run.p99)
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing useful: run
    // only when benchmarking.
    if !std::env::args().any(|a| a == "--bench") {
        println!("throughput: run with `cargo bench -p smsgw-broker`");
        return;
    }
    let mut config = BrokerConfig::loopback();
    config.listeners.truncate(1);
    config.metrics.listen = None;
    // The topic rules as a deployment has them: one named root.
    config.topic_root = TopicRoot::try_from(ROOT.to_owned()).expect("a valid root");
    // A flood of 20,000 messages to one filter is far beyond what a site sees: with the
    // shipped segments (512 KiB per filter) rumqttd would drop most of the backlog. Give the
    // benchmark topic the room the events filter has.
    config.limits.segment_overrides.push(SegmentOverride {
        filter: format!("{ROOT}/#"),
        max_segment_size: 8 * 1024 * 1024,
        max_segment_count: 4,
    });
    let secret = SECRET.parse().expect("secret");
    let broker = smsgw_broker::start(config, &secret)
        .await
        .expect("broker starts");
    let addr = broker.mqtt_addr.expect("plain listener");

    println!(
        "QoS 1 publish -> delivery, 1 publisher -> 1 subscriber (rumqttc), {PAYLOAD}-byte payloads; \
         flood = {FLOOD} messages as fast as possible, paced = {PACED} at {PACED_RATE}/s"
    );
    let ours = measure("smsgw-broker", addr, true).await;
    broker.shutdown().await;

    let mosquitto_addr: SocketAddr = MOSQUITTO.parse().expect("address");
    let theirs = match tokio::time::timeout(
        Duration::from_secs(1),
        tokio::net::TcpStream::connect(mosquitto_addr),
    )
    .await
    {
        Ok(Ok(_)) => Some(measure("mosquitto", mosquitto_addr, false).await),
        _ => {
            println!("Mosquitto does not listen on {MOSQUITTO}: no comparison");
            None
        }
    };

    println!();
    println!("| broker        | phase  | delivered |      msg/s |  p50 ms  |  p99 ms  |");
    println!("|---------------|--------|----------:|-----------:|---------:|---------:|");
    row("smsgw-broker", "flood", &ours.flood);
    row("smsgw-broker", "paced", &ours.paced);
    if let Some(theirs) = &theirs {
        row("mosquitto", "flood", &theirs.flood);
        row("mosquitto", "paced", &theirs.paced);
        let ratio = ours.flood.throughput / theirs.flood.throughput;
        println!(
            "| ratio         | flood  |           | {ratio:>9.2}× |          |          |  smsgw-broker / mosquitto, target ≥ {TARGET_RATIO}×: {}",
            if ratio >= TARGET_RATIO {
                "ok"
            } else {
                "BELOW TARGET"
            }
        );
        println!();
        println!(
            "ratio smsgw-broker / mosquitto: flood throughput {:.2}, flood p50 {:.2}, flood p99 {:.2}, paced p50 {:.2}, paced p99 {:.2}",
            ours.flood.throughput / theirs.flood.throughput,
            ms(ours.flood.p50) / ms(theirs.flood.p50),
            ms(ours.flood.p99) / ms(theirs.flood.p99),
            ms(ours.paced.p50) / ms(theirs.paced.p50),
            ms(ours.paced.p99) / ms(theirs.paced.p99),
        );
    }
    // The summary rows `bench/all.sh` gathers into BENCHMARKS.md.
    println!();
    println!("| measure | value | target | |");
    println!("|---|---|---|---|");
    println!(
        "| broker QoS 1 flood, smsgw-broker | {:.0} msg/s, p99 {:.1} ms | | |",
        ours.flood.throughput,
        ms(ours.flood.p99)
    );
    println!(
        "| broker QoS 1 at {PACED_RATE}/s, smsgw-broker p50 / p99 | {:.2} / {:.2} ms | | |",
        ms(ours.paced.p50),
        ms(ours.paced.p99)
    );
    if let Some(theirs) = &theirs {
        let ratio = ours.flood.throughput / theirs.flood.throughput;
        println!(
            "| broker flood throughput, smsgw-broker / Mosquitto (same run) | {ratio:.2}× | ≥ {TARGET_RATIO}× | {} |",
            if ratio >= TARGET_RATIO { "ok" } else { "below" }
        );
        println!(
            "| broker paced p50, smsgw-broker / Mosquitto (same run) | {:.2}× | | |",
            ms(ours.paced.p50) / ms(theirs.paced.p50)
        );
    }
    println!();
}
