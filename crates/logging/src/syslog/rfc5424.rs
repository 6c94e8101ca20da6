//! Log envelopes as RFC 5424 messages, laid out the way Loggregator's syslog agent writes them,
//! and RFC 6587 octet counting, the framing drains use over TCP and TLS.
//!
//! ```text
//! <14>1 2024-05-01T12:00:00.123456+00:00 org.space.app 6f3c…-guid [APP/PROC/WEB/0] - [tags@47450 source_type="APP/PROC/WEB"] hello
//! ```
//!
//! Where the agent would refuse a message (a header field that is not printable ASCII or too
//! long), this keeps it and cleans the field instead: a drain should lose as few lines as it can.

use std::io::Write;

use chrono::{DateTime, Timelike};

use crate::envelope::{Envelope, LogType, Message};

/// The structured-data id of an envelope's tags: 47450 is the Cloud Foundry Foundation's IANA
/// private enterprise number.
const TAGS_SD_ID: &str = "tags@47450";

/// RFC 5424's length limits for the header fields.
const MAX_HOSTNAME: usize = 255;
const MAX_APP_NAME: usize = 48;
const MAX_PROCID: usize = 128;
/// A hostname label (each of org, space and app) is at most 63 bytes.
const MAX_LABEL: usize = 63;
/// How much of the instance id the process id keeps when both parts do not fit.
const MAX_PROCID_INSTANCE: usize = 36;

/// The RFC 5424 message for a log envelope, ending in a newline; `None` for other envelopes
/// (drains carry logs). The hostname is `org.space.app` from the envelope's
/// `organization_name`, `space_name` and `app_name` tags, or `default_hostname` without them.
pub fn to_rfc5424(envelope: &Envelope, default_hostname: &str) -> Option<Vec<u8>> {
    let Message::Log(log) = &envelope.message else {
        return None;
    };
    // Facility user (1) with severity informational (6) or error (3).
    let priority = match log.log_type {
        LogType::Out => 14,
        LogType::Err => 11,
    };
    let mut out = Vec::with_capacity(192 + log.payload.len());
    let _ = write!(out, "<{priority}>1 ");
    write_timestamp(&mut out, envelope.timestamp);
    out.push(b' ');
    let hostname = hostname(envelope).unwrap_or_else(|| default_hostname.to_owned());
    push_header_field(&mut out, &hostname, MAX_HOSTNAME);
    out.push(b' ');
    push_header_field(&mut out, &envelope.source_id, MAX_APP_NAME);
    out.push(b' ');
    let source_type = envelope.tags.get("source_type").map_or("", String::as_str);
    push_header_field(
        &mut out,
        &process_id(source_type, &envelope.instance_id),
        MAX_PROCID,
    );
    // No MSGID.
    out.extend_from_slice(b" - ");
    push_tags(&mut out, envelope);
    out.push(b' ');
    // NUL ends a string for many receivers; the agent strips it too.
    if log.payload.contains(&0) {
        out.extend(log.payload.iter().copied().filter(|&b| b != 0));
    } else {
        out.extend_from_slice(&log.payload);
    }
    if out.last() != Some(&b'\n') {
        out.push(b'\n');
    }
    Some(out)
}

/// RFC 6587 octet counting: the message's length in bytes, a space, the message.
pub fn octet_counted(message: &[u8]) -> Vec<u8> {
    let mut framed = Vec::with_capacity(message.len() + 8);
    let _ = write!(framed, "{} ", message.len());
    framed.extend_from_slice(message);
    framed
}

/// RFC 3339 in UTC with microseconds, trailing zeros (and a zero fraction) left out, and a
/// numeric offset: the agent's `2006-01-02T15:04:05.999999-07:00`.
fn write_timestamp(out: &mut Vec<u8>, nanos: i64) {
    let at = DateTime::from_timestamp_nanos(nanos);
    let _ = write!(out, "{}", at.format("%Y-%m-%dT%H:%M:%S"));
    // Truncated, not rounded, as Go formats it. A leap second's nanos exceed 10^9; ignore it.
    let micros = at.nanosecond() % 1_000_000_000 / 1_000;
    if micros != 0 {
        let fraction = format!("{micros:06}");
        let _ = write!(out, ".{}", fraction.trim_end_matches('0'));
    }
    out.extend_from_slice(b"+00:00");
}

/// `org.space.app` when the envelope names any of them.
fn hostname(envelope: &Envelope) -> Option<String> {
    let tag = |name: &str| envelope.tags.get(name).map(String::as_str);
    let (org, space, app) = (tag("organization_name"), tag("space_name"), tag("app_name"));
    if org.is_none() && space.is_none() && app.is_none() {
        return None;
    }
    let label = |name: Option<&str>| {
        let mut label = hostname_label(name.unwrap_or_default());
        label.truncate(MAX_LABEL);
        label
    };
    Some(format!("{}.{}.{}", label(org), label(space), label(app)))
}

/// A name as a hostname label, as the agent makes it: whitespace runs become `-`, anything but
/// ASCII letters, digits and `-` is removed, and trailing dashes go.
fn hostname_label(name: &str) -> String {
    let mut label = String::with_capacity(name.len());
    let mut in_space = false;
    for c in name.chars() {
        if c.is_whitespace() {
            if !in_space {
                label.push('-');
            }
            in_space = true;
            continue;
        }
        in_space = false;
        if c.is_ascii_alphanumeric() || c == '-' {
            label.push(c);
        }
    }
    label.truncate(label.trim_end_matches('-').len());
    label
}

/// `[SOURCE_TYPE/INSTANCE]`, or `[SOURCE_TYPE]` without an instance, fitted into 128 bytes
/// by cutting the instance first and then the source type, as the agent does.
fn process_id(source_type: &str, instance_id: &str) -> String {
    let mut source_type: String = source_type
        .to_ascii_uppercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join("-");
    let brackets = 2;
    if instance_id.is_empty() {
        truncate_at_char(&mut source_type, MAX_PROCID - brackets);
        return format!("[{source_type}]");
    }
    let room = MAX_PROCID - brackets - 1;
    let mut instance = instance_id.to_owned();
    if instance.len() + source_type.len() > room {
        truncate_at_char(&mut instance, MAX_PROCID_INSTANCE);
    }
    if instance.len() + source_type.len() > room {
        truncate_at_char(&mut source_type, room - instance.len());
    }
    format!("[{source_type}/{instance}]")
}

/// A header field: printable US-ASCII only (RFC 5424's PRINTUSASCII), at most `max` bytes,
/// `-` (the NILVALUE) when nothing is left.
fn push_header_field(out: &mut Vec<u8>, value: &str, max: usize) {
    let start = out.len();
    out.extend(value.bytes().filter(|b| (33..=126).contains(b)).take(max));
    if out.len() == start {
        out.push(b'-');
    }
}

/// `[tags@47450 key="value" …]` in key order, or `-` without tags. Keys that are not valid
/// SD-NAMEs are left out; values escape `"`, `\` and `]`.
fn push_tags(out: &mut Vec<u8>, envelope: &Envelope) {
    let mut tags = envelope
        .tags
        .iter()
        .filter(|(key, _)| is_sd_name(key))
        .peekable();
    if tags.peek().is_none() {
        out.push(b'-');
        return;
    }
    out.push(b'[');
    out.extend_from_slice(TAGS_SD_ID.as_bytes());
    for (key, value) in tags {
        out.push(b' ');
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b"=\"");
        for &b in value.as_bytes() {
            if matches!(b, b'"' | b'\\' | b']') {
                out.push(b'\\');
            }
            out.push(b);
        }
        out.push(b'"');
    }
    out.push(b']');
}

/// Printable ASCII without `=`, `]`, `"` (or space). Like the agent, longer names than RFC
/// 5424's 32 bytes are allowed.
fn is_sd_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| (33..=126).contains(&b) && !matches!(b, b'=' | b']' | b'"'))
}

fn truncate_at_char(s: &mut String, max: usize) {
    if s.len() <= max {
        return;
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.truncate(cut);
}

#[cfg(test)]
mod tests;
