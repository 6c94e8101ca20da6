use super::*;

const GUID: &str = "6f3c0bd2-3b1e-4f39-9b7e-0c5a8a1d2e4f";

fn line(source_type: &str, instance: &str, log_type: LogType, text: &str, at: i64) -> Envelope {
    Envelope::log(GUID, instance, source_type, log_type, text, at)
}

fn text(envelope: &Envelope, hostname: &str) -> String {
    String::from_utf8(to_rfc5424(envelope, hostname).unwrap()).unwrap()
}

#[test]
fn app_output_is_info_and_app_errors_are_error_severity() {
    // 1714564800 is 2024-05-01T12:00:00Z.
    let at = 1_714_564_800_123_456_789;
    let out = line("APP/PROC/WEB", "0", LogType::Out, "hello", at);
    assert_eq!(
        text(&out, GUID),
        format!(
            "<14>1 2024-05-01T12:00:00.123456+00:00 {GUID} {GUID} [APP/PROC/WEB/0] - \
             [tags@47450 source_type=\"APP/PROC/WEB\"] hello\n"
        )
    );
    let err = line("APP/PROC/WEB", "3", LogType::Err, "boom", at);
    assert!(text(&err, GUID).starts_with("<11>1 "));
    assert!(text(&err, GUID).contains(" [APP/PROC/WEB/3] - "));
}

#[test]
fn matches_the_agents_own_examples() {
    let envelope = line("MY TASK", "2", LogType::Out, "just a test", 12_345_000);
    assert_eq!(
        text(&envelope, "test-hostname"),
        format!(
            "<14>1 1970-01-01T00:00:00.012345+00:00 test-hostname {GUID} [MY-TASK/2] - \
             [tags@47450 source_type=\"MY TASK\"] just a test\n"
        )
    );
}

#[test]
fn timestamps_keep_microseconds_without_trailing_zeros() {
    let stamp = |nanos: i64| {
        let mut out = Vec::new();
        write_timestamp(&mut out, nanos);
        String::from_utf8(out).unwrap()
    };
    let second = 1_714_564_800_000_000_000;
    assert_eq!(stamp(second), "2024-05-01T12:00:00+00:00");
    assert_eq!(stamp(second + 500_000_000), "2024-05-01T12:00:00.5+00:00");
    assert_eq!(stamp(second + 1_000), "2024-05-01T12:00:00.000001+00:00");
    // Below a microsecond is cut, not rounded.
    assert_eq!(stamp(second + 999), "2024-05-01T12:00:00+00:00");
}

#[test]
fn hostname_is_org_space_app_when_the_tags_name_them() {
    let mut envelope = line("APP/PROC/WEB", "0", LogType::Err, "x", 0);
    envelope.tags.extend([
        ("organization_name".to_owned(), "some_org".to_owned()),
        ("space_name".to_owned(), "some  space".to_owned()),
        ("app_name".to_owned(), "some_app--".to_owned()),
    ]);
    let message = text(&envelope, GUID);
    assert!(
        message.starts_with(&format!(
            "<11>1 1970-01-01T00:00:00+00:00 someorg.some-space.someapp {GUID} "
        )),
        "{message}"
    );
    // The tags themselves travel unchanged, in key order.
    assert!(message.contains(
        "[tags@47450 app_name=\"some_app--\" organization_name=\"some_org\" \
         source_type=\"APP/PROC/WEB\" space_name=\"some  space\"]"
    ));

    envelope
        .tags
        .insert("organization_name".to_owned(), "a".repeat(100));
    let message = text(&envelope, GUID);
    assert!(message.contains(&format!(" {}.some-space.someapp ", "a".repeat(63))));
}

#[test]
fn processes_ids_name_the_source_and_instance() {
    assert_eq!(process_id("APP/PROC/WEB", "0"), "[APP/PROC/WEB/0]");
    assert_eq!(process_id("stg", "0"), "[STG/0]");
    assert_eq!(process_id("API", ""), "[API]");
    let long = process_id(&"t".repeat(200), &"i".repeat(100));
    assert_eq!(long.len(), MAX_PROCID);
    assert!(long.ends_with(&format!("/{}]", "i".repeat(MAX_PROCID_INSTANCE))));
}

#[test]
fn tag_values_are_escaped_and_bad_tag_names_left_out() {
    let mut envelope = line("APP/PROC/WEB", "0", LogType::Out, "x", 0);
    envelope
        .tags
        .insert("quote".to_owned(), r#"a"b\c]d"#.to_owned());
    envelope.tags.insert("bad key".to_owned(), "v".to_owned());
    envelope.tags.insert("a=b".to_owned(), "v".to_owned());
    let message = text(&envelope, GUID);
    assert!(
        message.contains(r#"[tags@47450 quote="a\"b\\c\]d" source_type="APP/PROC/WEB"]"#),
        "{message}"
    );

    envelope.tags.clear();
    assert!(text(&envelope, GUID).contains(" [/0] - - x\n"));
}

#[test]
fn payload_keeps_its_newline_loses_nuls_and_may_be_empty() {
    let envelope = line("APP/PROC/WEB", "0", LogType::Out, "a\0b\n", 0);
    assert!(text(&envelope, GUID).ends_with("] ab\n"));
    let empty = line("APP/PROC/WEB", "0", LogType::Out, "", 0);
    assert!(text(&empty, GUID).ends_with("\"] \n"));
}

#[test]
fn header_fields_are_printable_ascii_or_nil() {
    let mut envelope = line("APP/PROC/WEB", "0", LogType::Out, "x", 0);
    envelope.source_id = "my app ü".to_owned();
    let message = text(&envelope, "");
    assert!(
        message.starts_with("<14>1 1970-01-01T00:00:00+00:00 - myapp [APP/PROC/WEB/0] "),
        "{message}"
    );
    envelope.source_id = "x".repeat(60);
    assert!(text(&envelope, "h").contains(&format!(" h {} [", "x".repeat(MAX_APP_NAME))));
}

#[test]
fn only_logs_become_syslog_messages() {
    let counter = Envelope::counter(GUID, "0", "requests", 1, 2, 0);
    assert_eq!(to_rfc5424(&counter, GUID), None);
}

#[test]
fn octet_counting_prefixes_the_byte_length() {
    assert_eq!(octet_counted(b"<14>1 x\n"), b"8 <14>1 x\n");
    assert_eq!(octet_counted("ü\n".as_bytes()), "3 ü\n".as_bytes());
}
