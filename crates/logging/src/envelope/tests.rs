use serde_json::{Value, json};

use super::*;

const APP: &str = "4b1e5c0a-9d8f-4c1e-a3b2-1f2e3d4c5b6a";
const AT: i64 = 1_605_995_000_000_000_000;

fn to_json(envelope: &Envelope) -> Value {
    serde_json::to_value(envelope).unwrap()
}

fn payload(envelope: &Envelope) -> &[u8] {
    match &envelope.message {
        Message::Log(log) => &log.payload,
        other => panic!("not a log: {other:?}"),
    }
}

#[test]
fn a_log_envelope_is_exactly_what_the_cf_cli_decodes() {
    let envelope = Envelope::log(APP, "0", "APP/PROC/WEB", LogType::Out, "app started", AT);
    let text = serde_json::to_string(&envelope).unwrap();
    assert_eq!(
        text,
        format!(
            r#"{{"timestamp":"1605995000000000000","source_id":"{APP}","instance_id":"0","tags":{{"source_type":"APP/PROC/WEB"}},"log":{{"payload":"YXBwIHN0YXJ0ZWQ=","type":"OUT"}}}}"#
        )
    );
}

#[test]
fn err_lines_and_binary_payloads_use_standard_base64() {
    let envelope = Envelope::log(APP, "1", "STG", LogType::Err, vec![0xfb, 0xff, 0x00], AT);
    assert_eq!(
        to_json(&envelope)["log"],
        json!({"payload": "+/8A", "type": "ERR"})
    );
}

#[test]
fn empty_top_level_fields_are_left_out() {
    let mut envelope = Envelope::counter("", "", "requests", 0, 0, -5);
    envelope.tags.clear();
    assert_eq!(
        to_json(&envelope),
        json!({
            "timestamp": "-5",
            "counter": {"name": "requests", "delta": "0", "total": "0"}
        })
    );
}

#[test]
fn every_kind_has_the_proto_field_names_and_nothing_else() {
    let timer = Envelope {
        timestamp: AT,
        source_id: "gorouter".into(),
        instance_id: "a1".into(),
        tags: BTreeMap::new(),
        message: Message::Timer(Timer {
            name: "http".into(),
            start: AT - 10,
            stop: AT,
        }),
    };
    let event = Envelope {
        message: Message::Event(Event {
            title: "crash".into(),
            body: "exit 1".into(),
        }),
        ..timer.clone()
    };
    let counter = Envelope::counter("rep", "c1", "ContainerCount", 2, u64::MAX, AT);
    assert_eq!(
        to_json(&timer),
        json!({"timestamp": AT.to_string(), "source_id": "gorouter", "instance_id": "a1",
               "timer": {"name": "http", "start": (AT - 10).to_string(), "stop": AT.to_string()}})
    );
    assert_eq!(
        to_json(&event)["event"],
        json!({"title": "crash", "body": "exit 1"})
    );
    assert_eq!(
        to_json(&counter)["counter"],
        json!({"name": "ContainerCount", "delta": "2", "total": "18446744073709551615"})
    );
}

#[test]
fn container_metrics_are_the_gauge_the_rep_emits() {
    let usage = ContainerMetrics {
        cpu_percentage: 12.5,
        memory_bytes: 64 << 20,
        disk_bytes: 10 << 20,
        memory_quota_bytes: 256 << 20,
        disk_quota_bytes: 1 << 30,
    };
    let envelope = Envelope::container_metrics(APP, 2, &usage, AT);
    assert_eq!(envelope.envelope_type(), EnvelopeType::Gauge);
    assert_eq!(
        to_json(&envelope),
        json!({
            "timestamp": AT.to_string(),
            "source_id": APP,
            "instance_id": "2",
            "gauge": {"metrics": {
                "cpu": {"unit": "percentage", "value": 12.5},
                "memory": {"unit": "bytes", "value": 67108864.0},
                "disk": {"unit": "bytes", "value": 10485760.0},
                "memory_quota": {"unit": "bytes", "value": 268435456.0},
                "disk_quota": {"unit": "bytes", "value": 1073741824.0}
            }}
        })
    );
}

#[test]
fn round_trips_and_reads_what_other_servers_write() {
    let envelope = Envelope::log(APP, "0", "STG", LogType::Err, "boom", AT);
    let back: Envelope = serde_json::from_value(to_json(&envelope)).unwrap();
    assert_eq!(back, envelope);

    // Numbers for 64-bit integers and enums, deprecated_tags, omitted defaults: all valid
    // protobuf-JSON.
    let foreign = json!({
        "timestamp": 5,
        "source_id": APP,
        "deprecated_tags": {"x": {"text": "y"}},
        "log": {"payload": "aGk=", "type": 1}
    });
    let back: Envelope = serde_json::from_value(foreign).unwrap();
    assert_eq!(back.timestamp, 5);
    assert_eq!(
        back.message,
        Message::Log(Log {
            payload: b"hi".to_vec(),
            log_type: LogType::Err
        })
    );
    let counter: Envelope =
        serde_json::from_value(json!({"timestamp": "1", "counter": {"name": "n"}})).unwrap();
    assert_eq!(
        counter.message,
        Message::Counter(Counter {
            name: "n".into(),
            delta: 0,
            total: 0
        })
    );
}

#[test]
fn short_lines_are_one_envelope() {
    let pieces = Envelope::log_chunks(APP, "0", "APP/PROC/WEB", LogType::Out, b"hello", AT);
    assert_eq!(pieces.len(), 1);
    assert_eq!(payload(&pieces[0]), b"hello");
    let empty = Envelope::log_chunks(APP, "0", "APP/PROC/WEB", LogType::Out, b"", AT);
    assert_eq!(empty.len(), 1);
}

#[test]
fn long_lines_split_into_60_kib_pieces_with_rising_timestamps() {
    let line = vec![b'x'; 2 * MAX_LOG_PAYLOAD + 10];
    let pieces = Envelope::log_chunks(APP, "3", "APP/PROC/WEB", LogType::Err, &line, AT);
    let sizes: Vec<usize> = pieces.iter().map(|e| payload(e).len()).collect();
    assert_eq!(sizes, [MAX_LOG_PAYLOAD, MAX_LOG_PAYLOAD, 10]);
    let stamps: Vec<i64> = pieces.iter().map(|e| e.timestamp).collect();
    assert_eq!(stamps, [AT, AT + 1, AT + 2]);
    assert!(pieces.iter().all(|e| e.instance_id == "3"
        && e.tags["source_type"] == "APP/PROC/WEB"
        && matches!(&e.message, Message::Log(l) if l.log_type == LogType::Err)));
    assert_eq!(
        pieces
            .iter()
            .flat_map(|e| payload(e).to_vec())
            .collect::<Vec<_>>(),
        line
    );
}

#[test]
fn splits_never_cut_a_utf8_character() {
    // 'é' is two bytes; shifting by one byte puts a character across the 60 KiB mark.
    let line = format!("a{}", "é".repeat(MAX_LOG_PAYLOAD));
    let pieces = Envelope::log_chunks(APP, "0", "STG", LogType::Out, line.as_bytes(), AT);
    assert!(pieces.len() > 1);
    for piece in &pieces {
        assert!(payload(piece).len() <= MAX_LOG_PAYLOAD);
        std::str::from_utf8(payload(piece)).expect("each piece is valid UTF-8");
    }
    let joined: Vec<u8> = pieces.iter().flat_map(|e| payload(e).to_vec()).collect();
    assert_eq!(joined, line.as_bytes());
}

#[test]
fn bytes_that_are_not_utf8_split_at_the_limit() {
    let line = vec![0x80; MAX_LOG_PAYLOAD + 1];
    let pieces = Envelope::log_chunks(APP, "0", "STG", LogType::Out, &line, AT);
    assert_eq!(payload(&pieces[0]).len(), MAX_LOG_PAYLOAD);
    assert_eq!(payload(&pieces[1]).len(), 1);
}
