//! The wording of the Cloud Controller's own (`API`) lines in an app's logs, which quote
//! requests the way CC (Ruby) prints them.

use std::fmt::Write;

use serde_json::Value;

/// "Updated app with guid X (<request>)", for any change to the app itself.
pub(crate) fn app_updated(app_guid: &str, request: &Value) -> String {
    format!(
        "Updated app with guid {app_guid} ({})",
        ruby_inspect(request)
    )
}

/// A JSON value as Ruby's `inspect` prints it: `{"name"=>"x", "instances"=>2, "a"=>nil}`.
pub(crate) fn ruby_inspect(value: &Value) -> String {
    let mut out = String::new();
    write_ruby(&mut out, value);
    out
}

fn write_ruby(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("nil"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        // Rust's escaping of quotes, backslashes and control characters matches Ruby's.
        Value::String(s) => {
            let _ = write!(out, "{s:?}");
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_ruby(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                let _ = write!(out, "{key:?}=>");
                write_ruby(out, item);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn requests_read_as_cc_prints_them() {
        assert_eq!(
            app_updated("g", &json!({"name": "new \"name\""})),
            r#"Updated app with guid g ({"name"=>"new \"name\""})"#
        );
        assert_eq!(
            ruby_inspect(&json!({"b": [1, true, null], "a": {"c": 2.5}})),
            r#"{"a"=>{"c"=>2.5}, "b"=>[1, true, nil]}"#
        );
    }
}
