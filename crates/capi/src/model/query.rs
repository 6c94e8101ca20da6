//! List query parsing (filters, paging, ordering, include, label_selector, timestamps) and the
//! generic list pipeline every v3 list shares.

use std::collections::BTreeMap;

use chrono::{DateTime, SubsecRound, Utc};

use super::{Listable, label_selector::LabelSelector};
use crate::Error;

pub const DEFAULT_PER_PAGE: usize = 50;
pub const MAX_PER_PAGE: usize = 5000;

/// What one list endpoint accepts besides paging.
#[derive(Debug, Clone, Copy)]
pub struct ListSpec {
    pub filters: &'static [&'static str],
    pub includes: &'static [&'static str],
    pub order_by: &'static [&'static str],
    pub label_selector: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeOp {
    Eq,
    Lt,
    Lte,
    Gt,
    Gte,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeFilter {
    pub updated: bool,
    pub op: TimeOp,
    pub values: Vec<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListParams {
    pub page: usize,
    pub per_page: usize,
    /// The field and whether it sorts descending; `None` means creation order.
    pub order_by: Option<(String, bool)>,
    pub filters: BTreeMap<String, Vec<String>>,
    pub label_selector: Option<LabelSelector>,
    pub include: Vec<String>,
    pub time_filters: Vec<TimeFilter>,
    /// The decoded query pairs, kept to rebuild pagination links.
    pub pairs: Vec<(String, String)>,
}

impl Default for ListParams {
    fn default() -> Self {
        Self {
            page: 1,
            per_page: DEFAULT_PER_PAGE,
            order_by: None,
            filters: BTreeMap::new(),
            label_selector: None,
            include: Vec::new(),
            time_filters: Vec::new(),
            pairs: Vec::new(),
        }
    }
}

fn bad(msg: impl Into<String>) -> Error {
    Error::BadQuery(msg.into())
}

/// Splits a comma list; `%2C` inside a value is a literal comma (the CLI escapes them).
fn split_values(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(|v| v.replace("%2C", ",").replace("%2c", ","))
        .collect()
}

fn parse_time_key(key: &str) -> Option<(bool, TimeOp)> {
    let (base, op) = match key.split_once('[') {
        Some((base, rest)) => {
            let op = match rest.strip_suffix(']')? {
                "lt" => TimeOp::Lt,
                "lte" => TimeOp::Lte,
                "gt" => TimeOp::Gt,
                "gte" => TimeOp::Gte,
                _ => return None,
            };
            (base, op)
        }
        None => (key, TimeOp::Eq),
    };
    match base {
        "created_ats" => Some((false, op)),
        "updated_ats" => Some((true, op)),
        _ => None,
    }
}

impl ListParams {
    /// Parses a raw (still URL-encoded) query string against what the endpoint accepts.
    pub fn parse(query: Option<&str>, spec: &ListSpec) -> Result<Self, Error> {
        let mut params = Self::default();
        let mut unknown = Vec::new();
        for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            let (key, value) = (key.into_owned(), value.into_owned());
            params.pairs.push((key.clone(), value.clone()));
            match key.as_str() {
                "page" => {
                    params.page = value
                        .parse::<usize>()
                        .ok()
                        .filter(|p| *p >= 1)
                        .ok_or_else(|| bad("Page must be greater than 0"))?;
                }
                "per_page" => {
                    params.per_page = value
                        .parse::<usize>()
                        .ok()
                        .filter(|p| (1..=MAX_PER_PAGE).contains(p))
                        .ok_or_else(|| bad("Per page must be between 1 and 5000"))?;
                }
                "order_by" => {
                    let (field, desc) = match value.strip_prefix('-') {
                        Some(f) => (f, true),
                        None => (value.strip_prefix('+').unwrap_or(&value), false),
                    };
                    if !spec.order_by.contains(&field) {
                        let allowed: Vec<String> =
                            spec.order_by.iter().map(|f| format!("'{f}'")).collect();
                        return Err(bad(format!("Order by can only be: {}", allowed.join(", "))));
                    }
                    params.order_by = Some((field.to_owned(), desc));
                }
                "label_selector" if spec.label_selector => {
                    let selector = LabelSelector::parse(&value)
                        .ok_or_else(|| bad("Invalid label_selector value"))?;
                    params.label_selector = Some(selector);
                }
                "include" if !spec.includes.is_empty() => {
                    for inc in value.split(',') {
                        if !spec.includes.contains(&inc) {
                            return Err(bad(format!("Invalid included resource: '{inc}'")));
                        }
                        params.include.push(inc.to_owned());
                    }
                }
                k if spec.filters.contains(&k) => {
                    params.filters.insert(key.clone(), split_values(&value));
                }
                k => match parse_time_key(k) {
                    Some((updated, op)) => {
                        let values = value
                            .split(',')
                            .map(|v| DateTime::parse_from_rfc3339(v).map(|t| t.with_timezone(&Utc)))
                            .collect::<Result<Vec<_>, _>>()
                            .map_err(|_| {
                                let field = if updated { "Updated ats" } else { "Created ats" };
                                bad(format!("{field} has an invalid timestamp format. Timestamps should be formatted as 'YYYY-MM-DDThh:mm:ssZ'"))
                            })?;
                        params.time_filters.push(TimeFilter {
                            updated,
                            op,
                            values,
                        });
                    }
                    None => unknown.push(format!("'{k}'")),
                },
            }
        }
        if !unknown.is_empty() {
            let mut valid: Vec<String> = ["page", "per_page", "order_by"]
                .iter()
                .chain(spec.filters)
                .map(|f| format!("'{f}'"))
                .collect();
            if spec.label_selector {
                valid.push("'label_selector'".into());
            }
            if !spec.includes.is_empty() {
                valid.push("'include'".into());
            }
            valid.push("'created_ats'".into());
            valid.push("'updated_ats'".into());
            return Err(bad(format!(
                "Unknown query parameter(s): {}. Valid parameters are: {}",
                unknown.join(", "),
                valid.join(", ")
            )));
        }
        Ok(params)
    }

    /// True when the filter is absent or `value` is one of its values.
    pub fn allows(&self, filter: &str, value: &str) -> bool {
        self.filters
            .get(filter)
            .is_none_or(|values| values.iter().any(|v| v == value))
    }

    /// Like `allows` for a nullable value: a null never matches a present filter.
    pub fn allows_opt(&self, filter: &str, value: Option<&str>) -> bool {
        match value {
            Some(v) => self.allows(filter, v),
            None => !self.filters.contains_key(filter),
        }
    }

    pub fn includes(&self, what: &str) -> bool {
        self.include.iter().any(|i| i == what)
    }

    fn time_ok(&self, created: DateTime<Utc>, updated: DateTime<Utc>) -> bool {
        self.time_filters.iter().all(|f| {
            // Clients only ever see whole seconds, so compare at that precision.
            let t = if f.updated { updated } else { created }.trunc_subsecs(0);
            match f.op {
                TimeOp::Eq => f.values.contains(&t),
                TimeOp::Lt => f.values.iter().all(|v| t < *v),
                TimeOp::Lte => f.values.iter().all(|v| t <= *v),
                TimeOp::Gt => f.values.iter().all(|v| t > *v),
                TimeOp::Gte => f.values.iter().all(|v| t >= *v),
            }
        })
    }

    /// Applies label selection, timestamp filters and ordering, then cuts out the page.
    /// Resource-specific filters and visibility must already be applied.
    pub fn select<T: Listable>(&self, mut items: Vec<T>) -> Page<T> {
        let empty = BTreeMap::new();
        items.retain(|item| {
            self.time_ok(item.created_at(), item.updated_at())
                && self
                    .label_selector
                    .as_ref()
                    .is_none_or(|s| s.matches(item.labels().unwrap_or(&empty)))
        });
        let by_creation = |a: &T, b: &T| {
            a.created_at()
                .cmp(&b.created_at())
                .then_with(|| a.guid().cmp(b.guid()))
        };
        match &self.order_by {
            Some((field, desc)) => {
                items.sort_by(|a, b| {
                    let ord = match field.as_str() {
                        "name" => a.name().cmp(&b.name()).then_with(|| by_creation(a, b)),
                        "position" => a
                            .position()
                            .cmp(&b.position())
                            .then_with(|| by_creation(a, b)),
                        "updated_at" => a
                            .updated_at()
                            .cmp(&b.updated_at())
                            .then_with(|| by_creation(a, b)),
                        _ => by_creation(a, b),
                    };
                    if *desc { ord.reverse() } else { ord }
                });
            }
            None => items.sort_by(by_creation),
        }
        let total_results = items.len();
        let items = items
            .into_iter()
            .skip((self.page - 1).saturating_mul(self.per_page))
            .take(self.per_page)
            .collect();
        Page {
            items,
            total_results,
            page: self.page,
            per_page: self.per_page,
        }
    }

    /// An absolute href for `page`, keeping every other query parameter.
    pub fn page_href(&self, base: &str, page: usize) -> String {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.pairs {
            if k != "page" && k != "per_page" {
                ser.append_pair(k, v);
            }
        }
        ser.append_pair("page", &page.to_string());
        ser.append_pair("per_page", &self.per_page.to_string());
        format!("{base}?{}", ser.finish())
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total_results: usize,
    pub page: usize,
    pub per_page: usize,
}

impl<T> Page<T> {
    pub fn total_pages(&self) -> usize {
        self.total_results.div_ceil(self.per_page).max(1)
    }
}

/// The v3 `pagination` object for a page of results at `base` (absolute, without query).
pub fn pagination_json<T>(page: &Page<T>, params: &ListParams, base: &str) -> serde_json::Value {
    let last = page.total_pages();
    let link = |p: usize| serde_json::json!({ "href": params.page_href(base, p) });
    serde_json::json!({
        "total_results": page.total_results,
        "total_pages": last,
        "first": link(1),
        "last": link(last),
        "next": if page.page < last { link(page.page + 1) } else { serde_json::Value::Null },
        "previous": if page.page > 1 && page.page <= last + 1 { link(page.page - 1) } else { serde_json::Value::Null },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: ListSpec = ListSpec {
        filters: &["names", "guids"],
        includes: &["organization"],
        order_by: &["name", "created_at", "updated_at"],
        label_selector: true,
    };

    #[derive(Debug, Clone)]
    struct Item {
        guid: String,
        name: String,
        at: DateTime<Utc>,
        labels: BTreeMap<String, String>,
    }

    impl Listable for Item {
        fn guid(&self) -> &str {
            &self.guid
        }
        fn name(&self) -> Option<&str> {
            Some(&self.name)
        }
        fn created_at(&self) -> DateTime<Utc> {
            self.at
        }
        fn updated_at(&self) -> DateTime<Utc> {
            self.at
        }
        fn labels(&self) -> Option<&BTreeMap<String, String>> {
            Some(&self.labels)
        }
    }

    fn items(n: usize) -> Vec<Item> {
        let base = DateTime::parse_from_rfc3339("2020-01-01T00:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        (0..n)
            .map(|i| Item {
                guid: format!("g{i}"),
                name: format!("n{}", n - i),
                at: base + chrono::Duration::seconds(i as i64),
                labels: if i % 2 == 0 {
                    [("even".to_owned(), "yes".to_owned())].into()
                } else {
                    BTreeMap::new()
                },
            })
            .collect()
    }

    #[test]
    fn parses_filters_and_paging() {
        let p = ListParams::parse(
            Some("names=a,b%252Cc&guids=&page=2&per_page=10&order_by=-name&include=organization"),
            &SPEC,
        )
        .expect("parses");
        assert_eq!(p.filters["names"], vec!["a", "b,c"]);
        // An empty value filters for the empty string.
        assert_eq!(p.filters["guids"], vec![""]);
        assert!(!p.allows("guids", "x"));
        assert!(p.allows("guids", ""));
        assert_eq!((p.page, p.per_page), (2, 10));
        assert_eq!(p.order_by, Some(("name".into(), true)));
        assert!(p.includes("organization"));
    }

    #[test]
    fn rejects_bad_params() {
        for q in [
            "per_page=0",
            "per_page=5001",
            "per_page=x",
            "page=0",
            "order_by=size",
            "include=space",
            "foo=bar",
            "label_selector=a%20in%20(b",
            "created_ats[gt]=yesterday",
        ] {
            let err = ListParams::parse(Some(q), &SPEC).expect_err(q);
            assert!(matches!(err, Error::BadQuery(_)), "{q}");
        }
        let err = ListParams::parse(Some("foo=1"), &SPEC).expect_err("unknown");
        assert!(
            err.to_string()
                .starts_with("Unknown query parameter(s): 'foo'")
        );
    }

    #[test]
    fn pages_and_links() {
        let p = ListParams::parse(Some("order_by=name&per_page=2&page=2"), &SPEC).expect("parses");
        let page = p.select(items(5));
        assert_eq!(page.total_results, 5);
        assert_eq!(page.total_pages(), 3);
        let names: Vec<_> = page.items.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["n3", "n4"]);
        let json = pagination_json(&page, &p, "http://cc/v3/things");
        assert_eq!(
            json["first"]["href"],
            "http://cc/v3/things?order_by=name&page=1&per_page=2"
        );
        assert_eq!(
            json["next"]["href"],
            "http://cc/v3/things?order_by=name&page=3&per_page=2"
        );
        assert_eq!(
            json["previous"]["href"],
            "http://cc/v3/things?order_by=name&page=1&per_page=2"
        );
        assert_eq!(
            json["last"]["href"],
            "http://cc/v3/things?order_by=name&page=3&per_page=2"
        );
    }

    #[test]
    fn empty_list_has_one_page_and_no_next() {
        let p = ListParams::default();
        let page = p.select(Vec::<Item>::new());
        let json = pagination_json(&page, &p, "http://cc/v3/x");
        assert_eq!(json["total_pages"], 1);
        assert!(json["next"].is_null());
        assert!(json["previous"].is_null());
    }

    #[test]
    fn label_selector_and_time_filters() {
        let p = ListParams::parse(Some("label_selector=even%3Dyes"), &SPEC).expect("parses");
        assert_eq!(p.select(items(5)).total_results, 3);
        let p = ListParams::parse(Some("created_ats%5Bgt%5D=2020-01-01T00:00:02Z"), &SPEC)
            .expect("parses");
        let page = p.select(items(5));
        assert_eq!(
            page.items
                .iter()
                .map(|i| i.guid.as_str())
                .collect::<Vec<_>>(),
            ["g3", "g4"]
        );
        let p = ListParams::parse(Some("order_by=-created_at"), &SPEC).expect("parses");
        assert_eq!(p.select(items(3)).items[0].guid, "g2");
    }
}
