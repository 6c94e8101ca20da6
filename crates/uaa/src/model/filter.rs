//! SCIM 1.1 filters, as clients send them to `/Users` and `/Groups`:
//! `userName eq "bob" and origin eq "uaa"`, `id eq "x" or id eq "y"`, `(...)`, `pr`, `co`, `sw`.
//! Attribute names and operators ignore case, and so do string comparisons, as in UAA.

/// A parsed filter expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Filter {
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Present(String),
    Compare(String, Op, Literal),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Co,
    Sw,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    Str(String),
    Bool(bool),
}

/// A value of a resource's attribute.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AttrValue {
    Str(String),
    Bool(bool),
}

/// Something a filter can test: returns the values of an attribute (lower-cased name).
pub(crate) trait Filterable {
    fn attribute(&self, name: &str) -> Vec<AttrValue>;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid filter expression: {0}")]
pub(crate) struct FilterError(pub String);

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    Str(String),
    Word(String),
}

fn tokenize(input: &str) -> Result<Vec<Token>, FilterError> {
    let mut tokens = Vec::new();
    let mut chars = input.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                tokens.push(Token::Open);
            }
            ')' => {
                chars.next();
                tokens.push(Token::Close);
            }
            '"' => {
                chars.next();
                let mut value = String::new();
                loop {
                    match chars.next() {
                        None => return Err(FilterError("unterminated string".into())),
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(escaped) => value.push(escaped),
                            None => return Err(FilterError("unterminated string".into())),
                        },
                        Some(other) => value.push(other),
                    }
                }
                tokens.push(Token::Str(value));
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || c == '(' || c == ')' || c == '"' {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                tokens.push(Token::Word(word));
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        token
    }

    fn peek_keyword(&self, keyword: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(keyword))
    }

    fn or_expr(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.and_expr()?;
        while self.peek_keyword("or") {
            self.pos += 1;
            let right = self.and_expr()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.primary()?;
        while self.peek_keyword("and") {
            self.pos += 1;
            let right = self.primary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn primary(&mut self) -> Result<Filter, FilterError> {
        match self.next() {
            Some(Token::Open) => {
                let inner = self.or_expr()?;
                match self.next() {
                    Some(Token::Close) => Ok(inner),
                    _ => Err(FilterError("missing closing parenthesis".into())),
                }
            }
            Some(Token::Word(attr)) => {
                if !attr
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == ':')
                {
                    return Err(FilterError(format!("bad attribute name {attr:?}")));
                }
                let attr = attr.to_ascii_lowercase();
                let op = match self.next() {
                    Some(Token::Word(op)) => op.to_ascii_lowercase(),
                    _ => return Err(FilterError(format!("missing operator after {attr}"))),
                };
                let op = match op.as_str() {
                    "pr" => return Ok(Filter::Present(attr)),
                    "eq" => Op::Eq,
                    "co" => Op::Co,
                    "sw" => Op::Sw,
                    "gt" => Op::Gt,
                    "ge" => Op::Ge,
                    "lt" => Op::Lt,
                    "le" => Op::Le,
                    other => return Err(FilterError(format!("unknown operator {other:?}"))),
                };
                let literal = match self.next() {
                    Some(Token::Str(s)) => Literal::Str(s),
                    Some(Token::Word(w)) if w.eq_ignore_ascii_case("true") => Literal::Bool(true),
                    Some(Token::Word(w)) if w.eq_ignore_ascii_case("false") => Literal::Bool(false),
                    _ => return Err(FilterError(format!("missing value after {attr}"))),
                };
                Ok(Filter::Compare(attr, op, literal))
            }
            _ => Err(FilterError("expected an attribute or '('".into())),
        }
    }
}

impl Filter {
    pub fn parse(input: &str) -> Result<Filter, FilterError> {
        let mut parser = Parser {
            tokens: tokenize(input)?,
            pos: 0,
        };
        if parser.tokens.is_empty() {
            return Err(FilterError("empty filter".into()));
        }
        let filter = parser.or_expr()?;
        if parser.pos != parser.tokens.len() {
            return Err(FilterError("unexpected text after the expression".into()));
        }
        Ok(filter)
    }

    pub fn matches(&self, item: &impl Filterable) -> bool {
        match self {
            Filter::And(a, b) => a.matches(item) && b.matches(item),
            Filter::Or(a, b) => a.matches(item) || b.matches(item),
            Filter::Present(attr) => item.attribute(attr).iter().any(|v| match v {
                AttrValue::Str(s) => !s.is_empty(),
                AttrValue::Bool(_) => true,
            }),
            Filter::Compare(attr, op, literal) => item
                .attribute(attr)
                .iter()
                .any(|value| compare(value, *op, literal)),
        }
    }
}

fn compare(value: &AttrValue, op: Op, literal: &Literal) -> bool {
    match (value, literal) {
        (AttrValue::Bool(v), Literal::Bool(l)) => op == Op::Eq && v == l,
        (AttrValue::Str(v), Literal::Str(l)) => {
            let (v, l) = (v.to_lowercase(), l.to_lowercase());
            match op {
                Op::Eq => v == l,
                Op::Co => v.contains(&l),
                Op::Sw => v.starts_with(&l),
                Op::Gt => v > l,
                Op::Ge => v >= l,
                Op::Lt => v < l,
                Op::Le => v <= l,
            }
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Item(&'static str, &'static str, bool);

    impl Filterable for Item {
        fn attribute(&self, name: &str) -> Vec<AttrValue> {
            match name {
                "username" => vec![AttrValue::Str(self.0.into())],
                "origin" => vec![AttrValue::Str(self.1.into())],
                "active" => vec![AttrValue::Bool(self.2)],
                _ => vec![],
            }
        }
    }

    #[test]
    fn parses_the_cf_cli_create_user_filter() {
        let filter = Filter::parse(r#"userName eq "bob" and origin eq "uaa""#).expect("parse");
        assert_eq!(
            filter,
            Filter::And(
                Box::new(Filter::Compare(
                    "username".into(),
                    Op::Eq,
                    Literal::Str("bob".into())
                )),
                Box::new(Filter::Compare(
                    "origin".into(),
                    Op::Eq,
                    Literal::Str("uaa".into())
                )),
            )
        );
        assert!(filter.matches(&Item("Bob", "uaa", true)));
        assert!(!filter.matches(&Item("bob", "ldap", true)));
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let filter = Filter::parse(r#"username eq "a" or username eq "b" and origin eq "x""#)
            .expect("parse");
        assert!(filter.matches(&Item("a", "uaa", true)));
        assert!(!filter.matches(&Item("b", "uaa", true)));
        assert!(filter.matches(&Item("b", "x", true)));
    }

    #[test]
    fn parentheses_booleans_and_operators() {
        let filter = Filter::parse(r#"(username sw "a" OR username co "zz") AND active eq true"#)
            .expect("parse");
        assert!(filter.matches(&Item("alice", "uaa", true)));
        assert!(filter.matches(&Item("bzzt", "uaa", true)));
        assert!(!filter.matches(&Item("alice", "uaa", false)));
        assert!(
            Filter::parse("origin pr")
                .expect("parse")
                .matches(&Item("a", "uaa", true))
        );
    }

    #[test]
    fn escaped_quotes_in_values() {
        let filter = Filter::parse(r#"username eq "say \"hi\"""#).expect("parse");
        assert!(filter.matches(&Item("say \"hi\"", "uaa", true)));
    }

    #[test]
    fn rejects_malformed_filters() {
        for bad in [
            "",
            "userName",
            "userName eq",
            r#"userName xx "a""#,
            r#"userName eq "a"#,
            r#"(userName eq "a""#,
            r#"userName eq "a" and"#,
            r#"userName eq "a" "b""#,
            r#"user'Name eq "a""#,
        ] {
            assert!(Filter::parse(bad).is_err(), "{bad:?} should not parse");
        }
    }
}
