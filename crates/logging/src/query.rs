//! A log-cache read: its parameters, and their query-string form, parsed by the server and
//! written by the client so both follow the same rules.

use crate::envelope::EnvelopeType;

/// The limit when a read gives none (or 0), as in log-cache.
pub const DEFAULT_LIMIT: usize = 100;
/// The largest limit log-cache accepts.
pub const MAX_LIMIT: usize = 1000;

/// Which envelopes of one source to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadQuery {
    /// Inclusive lower bound, nanoseconds since the epoch. May be negative: the cf CLI sends
    /// Go's zero time (-6795364578871345152).
    pub start_time: i64,
    /// Exclusive upper bound; `None` means "now".
    pub end_time: Option<i64>,
    /// Only these kinds; empty means every kind.
    pub envelope_types: Vec<EnvelopeType>,
    /// At most this many envelopes (capped at [`MAX_LIMIT`]).
    pub limit: usize,
    /// Newest first; the limit then keeps the newest envelopes instead of the oldest.
    pub descending: bool,
}

/// A query parameter the server could not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("invalid value {value:?} for {name}")]
    Invalid { name: &'static str, value: String },
    #[error("unknown envelope type {0:?}")]
    UnknownEnvelopeType(String),
    #[error("limit ({0}) must be {MAX_LIMIT} or less")]
    LimitTooLarge(i64),
    #[error("limit ({0}) must be greater than zero")]
    NegativeLimit(i64),
    #[error("start_time ({start}) must be before end_time ({end})")]
    StartAfterEnd { start: i64, end: i64 },
}

/// Go's zero `time.Time` in nanoseconds: what the cf CLI sends to mean "from the beginning".
pub const GO_ZERO_TIME_NS: i64 = -6_795_364_578_871_345_152;

impl Default for ReadQuery {
    fn default() -> Self {
        Self {
            start_time: 0,
            end_time: None,
            envelope_types: Vec::new(),
            limit: DEFAULT_LIMIT,
            descending: false,
        }
    }
}

impl ReadQuery {
    /// What `cf logs APP --recent` asks for: the newest 1000 log lines, newest first.
    pub fn recent() -> Self {
        Self {
            start_time: GO_ZERO_TIME_NS,
            envelope_types: vec![EnvelopeType::Log],
            limit: MAX_LIMIT,
            descending: true,
            ..Self::default()
        }
    }

    /// Parses a read's query string (`start_time`, `end_time`, repeated `envelope_types`,
    /// `limit`, `descending`) with log-cache's rules: an `end_time` of 0 means now, a `limit`
    /// of 0 means [`DEFAULT_LIMIT`], `ANY` adds no filter. Unknown parameters are ignored,
    /// as log-cache's gateway ignores them.
    pub(crate) fn parse(query: &str) -> Result<Self, QueryError> {
        let mut read = Self::default();
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            match name.as_ref() {
                "start_time" => read.start_time = parse_int("start_time", &value)?,
                "end_time" => {
                    let end = parse_int("end_time", &value)?;
                    read.end_time = (end != 0).then_some(end);
                }
                "limit" => read.limit = parse_limit(&value)?,
                "descending" => read.descending = parse_bool("descending", &value)?,
                "envelope_types" => {
                    if let Some(kind) = parse_envelope_type(&value)? {
                        read.envelope_types.push(kind);
                    }
                }
                _ => {}
            }
        }
        match read.end_time {
            Some(end) if read.start_time > end => Err(QueryError::StartAfterEnd {
                start: read.start_time,
                end,
            }),
            _ => Ok(read),
        }
    }

    /// The query string for this read, in the order the cf CLI writes its parameters.
    pub(crate) fn to_query_string(&self) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        if self.descending {
            query.append_pair("descending", "true");
        }
        if let Some(end) = self.end_time {
            query.append_pair("end_time", &end.to_string());
        }
        for kind in &self.envelope_types {
            query.append_pair("envelope_types", kind.as_str());
        }
        query.append_pair("limit", &self.limit.to_string());
        query.append_pair("start_time", &self.start_time.to_string());
        query.finish()
    }
}

fn parse_int(name: &'static str, value: &str) -> Result<i64, QueryError> {
    value.parse().map_err(|_| QueryError::Invalid {
        name,
        value: value.to_owned(),
    })
}

fn parse_limit(value: &str) -> Result<usize, QueryError> {
    match parse_int("limit", value)? {
        0 => Ok(DEFAULT_LIMIT),
        n if n < 0 => Err(QueryError::NegativeLimit(n)),
        n => usize::try_from(n)
            .ok()
            .filter(|&n| n <= MAX_LIMIT)
            .ok_or(QueryError::LimitTooLarge(n)),
    }
}

/// The spellings Go's `strconv.ParseBool` accepts, which is what log-cache's gateway uses.
fn parse_bool(name: &'static str, value: &str) -> Result<bool, QueryError> {
    match value {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(QueryError::Invalid {
            name,
            value: value.to_owned(),
        }),
    }
}

/// A name (`LOG`, any case) or a proto enum number (`1`…`5`); `ANY` (0) is no filter.
fn parse_envelope_type(value: &str) -> Result<Option<EnvelopeType>, QueryError> {
    let kind = match value.to_ascii_uppercase().as_str() {
        "ANY" | "0" => return Ok(None),
        "LOG" | "1" => EnvelopeType::Log,
        "COUNTER" | "2" => EnvelopeType::Counter,
        "GAUGE" | "3" => EnvelopeType::Gauge,
        "TIMER" | "4" => EnvelopeType::Timer,
        "EVENT" | "5" => EnvelopeType::Event,
        _ => return Err(QueryError::UnknownEnvelopeType(value.to_owned())),
    };
    Ok(Some(kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_cf_logs_recent_sends() {
        let read = ReadQuery::parse(
            "descending=true&envelope_types=LOG&limit=1000&start_time=-6795364578871345152",
        )
        .unwrap();
        assert_eq!(read, ReadQuery::recent());
    }

    #[test]
    fn parses_the_streaming_walk() {
        let first =
            ReadQuery::parse("descending=true&limit=1&start_time=-6795364578871345152").unwrap();
        assert_eq!(first.limit, 1);
        assert!(first.descending && first.envelope_types.is_empty());
        let walk = ReadQuery::parse("envelope_types=LOG&start_time=1605995000000000001").unwrap();
        assert_eq!(walk.start_time, 1_605_995_000_000_000_001);
        assert_eq!(walk.limit, DEFAULT_LIMIT);
        assert_eq!(walk.end_time, None);
        assert!(!walk.descending);
    }

    #[test]
    fn applies_log_cache_defaults() {
        let read = ReadQuery::parse("limit=0&end_time=0&envelope_types=ANY&unknown=1").unwrap();
        assert_eq!(read, ReadQuery::default());
    }

    #[test]
    fn repeated_types_accept_names_in_any_case_and_numbers() {
        let read =
            ReadQuery::parse("envelope_types=LOG&envelope_types=gauge&envelope_types=5").unwrap();
        assert_eq!(
            read.envelope_types,
            [EnvelopeType::Log, EnvelopeType::Gauge, EnvelopeType::Event]
        );
    }

    #[test]
    fn rejects_bad_parameters() {
        let cases = [
            ("start_time=soon", "invalid value \"soon\" for start_time"),
            ("end_time=", "invalid value \"\" for end_time"),
            ("limit=1001", "limit (1001) must be 1000 or less"),
            ("limit=-1", "limit (-1) must be greater than zero"),
            ("descending=yes", "invalid value \"yes\" for descending"),
            ("envelope_types=LOGS", "unknown envelope type \"LOGS\""),
            (
                "start_time=10&end_time=5",
                "start_time (10) must be before end_time (5)",
            ),
        ];
        for (query, message) in cases {
            let err = ReadQuery::parse(query).unwrap_err();
            assert_eq!(err.to_string(), message, "{query}");
        }
    }

    #[test]
    fn round_trips_through_the_query_string() {
        let read = ReadQuery {
            start_time: -5,
            end_time: Some(99),
            envelope_types: vec![EnvelopeType::Counter, EnvelopeType::Timer],
            limit: 7,
            descending: true,
        };
        assert_eq!(ReadQuery::parse(&read.to_query_string()).unwrap(), read);
        assert_eq!(
            ReadQuery::recent().to_query_string(),
            "descending=true&envelope_types=LOG&limit=1000&start_time=-6795364578871345152"
        );
    }
}
