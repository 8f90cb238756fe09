//! The run-search filter and order-by syntax, a documented subset of MLflow's.
//!
//! # Filter
//!
//! A filter is one or more comparisons joined by `AND` (MLflow has no `OR`):
//!
//! ```text
//! metrics.accuracy > 0.9 and params.max_depth = '10'
//! tags.model_type != 'baseline' AND attributes.status = 'FINISHED'
//! metrics.`f1 macro` >= 0.8 and run_name LIKE 'rf-%'
//! ```
//!
//! - **Left side**: `metrics.<key>`, `params.<key>`, `tags.<key>` or `attributes.<name>`
//!   (`metric.`, `param.`, `parameter.`, `tag.`, `attribute.`, `attr.` and `run.` are also
//!   accepted). A key with unusual characters goes in backticks or double quotes:
//!   ``metrics.`f1 macro` ``. Attributes may be written bare: `status`, `run_name`, `run_id`,
//!   `user_id`, `artifact_uri`, `start_time`, `end_time`.
//! - **Comparators**: `=`, `!=`, `<`, `<=`, `>`, `>=` on metrics and the numeric attributes
//!   `start_time` and `end_time` (the right side is a number); `=`, `!=`, `LIKE` and `ILIKE`
//!   on params, tags and the string attributes (the right side is a quoted string; in
//!   `LIKE`, `%` matches any run of characters and `_` one character; `ILIKE` ignores case).
//! - A run without the metric, param or tag named in a comparison does not match it.
//! - NaN compares like IEEE floats: only `!=` is true.
//!
//! # Order by
//!
//! Each clause is a left side as above followed by an optional `ASC` (default) or `DESC`:
//! `metrics.accuracy DESC`, `attributes.start_time`. Runs missing the value (or with a NaN
//! metric) come last in both directions. Without clauses, runs are ordered newest first
//! (`start_time DESC`), ties by run id, as MLflow does.
//!
//! Parse errors are [`Error::Filter`] with the byte position and the token found there.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::store::Run;

/// What a comparison or an order clause looks at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SearchKey {
    /// The latest value of a metric.
    Metric(String),
    /// A param.
    Param(String),
    /// A tag.
    Tag(String),
    /// A run attribute.
    Attribute(RunAttribute),
}

/// Run attributes that can be filtered and ordered on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RunAttribute {
    /// `run_id`.
    RunId,
    /// `run_name`.
    RunName,
    /// `status` (`RUNNING`, `FINISHED` ...).
    Status,
    /// `user_id`.
    UserId,
    /// `artifact_uri`.
    ArtifactUri,
    /// `start_time` (ms), numeric.
    StartTime,
    /// `end_time` (ms), numeric.
    EndTime,
}

impl RunAttribute {
    fn parse(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "run_id" | "run_uuid" => RunAttribute::RunId,
            "run_name" | "runname" => RunAttribute::RunName,
            "status" => RunAttribute::Status,
            "user_id" => RunAttribute::UserId,
            "artifact_uri" => RunAttribute::ArtifactUri,
            "start_time" | "created" => RunAttribute::StartTime,
            "end_time" => RunAttribute::EndTime,
            _ => return None,
        })
    }

    fn is_numeric(self) -> bool {
        matches!(self, RunAttribute::StartTime | RunAttribute::EndTime)
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Comparator {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `LIKE` (case-sensitive pattern).
    Like,
    /// `ILIKE` (case-insensitive pattern).
    ILike,
}

/// The right side of a comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SearchValue {
    /// A number (for metrics and numeric attributes).
    Number(f64),
    /// A quoted string (for params, tags and string attributes).
    Text(String),
}

/// One `key comparator value` clause.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    /// The left side.
    pub key: SearchKey,
    /// The operator.
    pub comparator: Comparator,
    /// The right side.
    pub value: SearchValue,
}

/// A parsed run filter: all conditions must hold.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Filter {
    /// The conditions, joined by AND.
    pub conditions: Vec<Condition>,
}

/// One parsed order-by clause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderBy {
    /// What to order on.
    pub key: SearchKey,
    /// Ascending (the default) or descending.
    pub ascending: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Quoted(String),
    Backticked(String),
    Number(f64),
    Op(Comparator),
    Dot,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    pos: usize,
    text: String,
}

fn err(what: &'static str, pos: usize, token: &str, message: impl Into<String>) -> Error {
    Error::Filter {
        what,
        position: pos,
        token: token.to_string(),
        message: message.into(),
    }
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | ':' | '/')
}

fn tokenize(what: &'static str, input: &str) -> Result<Vec<Token>> {
    let mut out = Vec::new();
    let chars: Vec<(usize, char)> = input.char_indices().collect();
    let mut i = 0;
    let end_of = |k: usize| chars.get(k).map_or(input.len(), |&(p, _)| p);
    while let Some(&(pos, c)) = chars.get(i) {
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let tok = if c == '\'' || c == '"' || c == '`' {
            let quote = c;
            i += 1;
            let mut s = String::new();
            loop {
                match chars.get(i) {
                    None => {
                        return Err(err(
                            what,
                            pos,
                            &input[pos..],
                            format!("unterminated {quote}-quoted string"),
                        ));
                    }
                    Some(&(_, ch)) if ch == quote => {
                        // A doubled quote inside a string is an escaped quote (SQL style).
                        if chars.get(i + 1).map(|&(_, c2)| c2) == Some(quote) {
                            s.push(quote);
                            i += 2;
                        } else {
                            i += 1;
                            break;
                        }
                    }
                    Some(&(_, ch)) => {
                        s.push(ch);
                        i += 1;
                    }
                }
            }
            if quote == '`' {
                Tok::Backticked(s)
            } else {
                Tok::Quoted(s)
            }
        } else if c.is_ascii_digit()
            || ((c == '-' || c == '+' || c == '.')
                && chars.get(i + 1).is_some_and(|&(_, d)| d.is_ascii_digit()))
        {
            i += 1;
            while let Some(&(_, d)) = chars.get(i) {
                let prev = chars.get(i - 1).map(|&(_, p)| p);
                if d.is_ascii_digit()
                    || d == '.'
                    || d == 'e'
                    || d == 'E'
                    || ((d == '-' || d == '+') && matches!(prev, Some('e' | 'E')))
                {
                    i += 1;
                } else {
                    break;
                }
            }
            let text = &input[pos..end_of(i)];
            let value: f64 = text
                .parse()
                .map_err(|_| err(what, pos, text, "malformed number"))?;
            Tok::Number(value)
        } else if is_ident_start(c) {
            i += 1;
            while chars.get(i).is_some_and(|&(_, d)| is_ident_char(d)) {
                i += 1;
            }
            Tok::Ident(input[pos..end_of(i)].to_string())
        } else if c == '.' {
            i += 1;
            Tok::Dot
        } else {
            let next = chars.get(i + 1).map(|&(_, d)| d);
            let (op, len) = match (c, next) {
                ('!', Some('=')) => (Comparator::Ne, 2),
                ('<', Some('>')) => (Comparator::Ne, 2),
                ('<', Some('=')) => (Comparator::Le, 2),
                ('>', Some('=')) => (Comparator::Ge, 2),
                ('=', Some('=')) => (Comparator::Eq, 2),
                ('<', _) => (Comparator::Lt, 1),
                ('>', _) => (Comparator::Gt, 1),
                ('=', _) => (Comparator::Eq, 1),
                _ => {
                    return Err(err(
                        what,
                        pos,
                        &c.to_string(),
                        "unexpected character; expected a key, a comparator (= != < <= > >= LIKE ILIKE) or a value",
                    ));
                }
            };
            i += len;
            Tok::Op(op)
        };
        out.push(Token {
            tok,
            pos,
            text: input[chars[start].0..end_of(i)].to_string(),
        });
    }
    Ok(out)
}

struct Parser<'a> {
    what: &'static str,
    input: &'a str,
    toks: Vec<Token>,
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.i)
    }

    fn end_err(&self, message: impl Into<String>) -> Error {
        err(self.what, self.input.len(), "", message)
    }

    fn next_or(&mut self, expected: &str) -> Result<Token> {
        let t =
            self.toks.get(self.i).cloned().ok_or_else(|| {
                self.end_err(format!("unexpected end of input; expected {expected}"))
            })?;
        self.i += 1;
        Ok(t)
    }

    /// `metrics.key`, ``params.`key` ``, `status`, `attributes.status`.
    fn key(&mut self) -> Result<SearchKey> {
        let t = self.next_or("a key such as metrics.accuracy")?;
        let ident = match &t.tok {
            Tok::Ident(s) => s.clone(),
            Tok::Backticked(s) | Tok::Quoted(s) => {
                return RunAttribute::parse(s).map(SearchKey::Attribute).ok_or_else(|| {
                    err(
                        self.what,
                        t.pos,
                        &t.text,
                        "unknown attribute; prefix keys with metrics., params., tags. or attributes.",
                    )
                });
            }
            _ => {
                return Err(err(
                    self.what,
                    t.pos,
                    &t.text,
                    "expected a key such as metrics.accuracy, params.max_depth, tags.x or status",
                ));
            }
        };
        // The identifier may already hold `metrics.accuracy` (dots are not ident chars, so it
        // does not: we read `metrics`, then `.`, then the key, which may contain dots).
        let next_is_dot = matches!(self.peek().map(|t| &t.tok), Some(Tok::Dot));
        if !next_is_dot {
            return RunAttribute::parse(&ident).map(SearchKey::Attribute).ok_or_else(|| {
                err(
                    self.what,
                    t.pos,
                    &t.text,
                    "unknown attribute; prefix keys with metrics., params., tags. or attributes.",
                )
            });
        }
        self.i += 1; // the dot
        let entity = ident.to_ascii_lowercase();
        let key = self.dotted_key()?;
        let key_text = &t.text;
        Ok(match entity.as_str() {
            "metrics" | "metric" => SearchKey::Metric(key),
            "params" | "param" | "parameters" | "parameter" => SearchKey::Param(key),
            "tags" | "tag" => SearchKey::Tag(key),
            "attributes" | "attribute" | "attr" | "run" => SearchKey::Attribute(
                RunAttribute::parse(&key).ok_or_else(|| {
                    err(
                        self.what,
                        t.pos,
                        &key,
                        "unknown attribute; expected run_id, run_name, status, user_id, artifact_uri, start_time or end_time",
                    )
                })?,
            ),
            _ => {
                return Err(err(
                    self.what,
                    t.pos,
                    key_text,
                    "unknown entity; expected metrics, params, tags or attributes",
                ));
            }
        })
    }

    /// The key after `entity.`: a quoted name, or identifiers and numbers joined by dots.
    fn dotted_key(&mut self) -> Result<String> {
        let t = self.next_or("a key after '.'")?;
        match t.tok {
            Tok::Backticked(s) | Tok::Quoted(s) => {
                if s.is_empty() {
                    return Err(err(self.what, t.pos, &t.text, "empty key"));
                }
                Ok(s)
            }
            Tok::Ident(s) => {
                let mut key = s;
                loop {
                    match self.peek().map(|t| (t.tok.clone(), t.text.clone())) {
                        Some((Tok::Dot, _)) => {
                            self.i += 1;
                            let part = self.next_or("a key part after '.'")?;
                            match part.tok {
                                Tok::Ident(p) => {
                                    key.push('.');
                                    key.push_str(&p);
                                }
                                Tok::Number(_) if !part.text.starts_with(['-', '+']) => {
                                    key.push('.');
                                    key.push_str(&part.text);
                                }
                                _ => {
                                    return Err(err(
                                        self.what,
                                        part.pos,
                                        &part.text,
                                        "expected a key part after '.'",
                                    ));
                                }
                            }
                        }
                        // `metrics.fold.1` tokenises the `.1` as a number: glue it back on.
                        Some((Tok::Number(_), text)) if text.starts_with('.') => {
                            self.i += 1;
                            key.push_str(&text);
                        }
                        _ => break,
                    }
                }
                Ok(key)
            }
            _ => Err(err(self.what, t.pos, &t.text, "expected a key after '.'")),
        }
    }

    fn comparator(&mut self) -> Result<(Comparator, Token)> {
        let t = self.next_or("a comparator (= != < <= > >= LIKE ILIKE)")?;
        let op = match &t.tok {
            Tok::Op(op) => *op,
            Tok::Ident(s) if s.eq_ignore_ascii_case("like") => Comparator::Like,
            Tok::Ident(s) if s.eq_ignore_ascii_case("ilike") => Comparator::ILike,
            _ => {
                return Err(err(
                    self.what,
                    t.pos,
                    &t.text,
                    "expected a comparator (= != < <= > >= LIKE ILIKE)",
                ));
            }
        };
        Ok((op, t))
    }

    fn condition(&mut self) -> Result<Condition> {
        let key = self.key()?;
        let (comparator, op_tok) = self.comparator()?;
        let numeric = match &key {
            SearchKey::Metric(_) => true,
            SearchKey::Attribute(a) => a.is_numeric(),
            SearchKey::Param(_) | SearchKey::Tag(_) => false,
        };
        let string_ops = matches!(
            comparator,
            Comparator::Eq | Comparator::Ne | Comparator::Like | Comparator::ILike
        );
        if numeric && matches!(comparator, Comparator::Like | Comparator::ILike) {
            return Err(err(
                self.what,
                op_tok.pos,
                &op_tok.text,
                "LIKE/ILIKE only apply to params, tags and string attributes",
            ));
        }
        if !numeric && !string_ops {
            return Err(err(
                self.what,
                op_tok.pos,
                &op_tok.text,
                "params, tags and string attributes only support =, !=, LIKE and ILIKE",
            ));
        }
        let v = self.next_or("a value (a number or a quoted string)")?;
        let value = match (&v.tok, numeric) {
            (Tok::Number(n), true) => SearchValue::Number(*n),
            (Tok::Quoted(s), false) => SearchValue::Text(s.clone()),
            (_, true) => {
                return Err(err(
                    self.what,
                    v.pos,
                    &v.text,
                    "expected a number on the right of a metric or time comparison",
                ));
            }
            (_, false) => {
                return Err(err(
                    self.what,
                    v.pos,
                    &v.text,
                    "expected a quoted string ('...') on the right of a param, tag or attribute comparison",
                ));
            }
        };
        Ok(Condition {
            key,
            comparator,
            value,
        })
    }
}

impl Filter {
    /// Parses a filter string; an empty or blank string is the filter that matches every run.
    pub fn parse(input: &str) -> Result<Filter> {
        const WHAT: &str = "filter";
        let toks = tokenize(WHAT, input)?;
        let mut p = Parser {
            what: WHAT,
            input,
            toks,
            i: 0,
        };
        let mut conditions = Vec::new();
        if p.peek().is_none() {
            return Ok(Filter { conditions });
        }
        loop {
            conditions.push(p.condition()?);
            match p.peek().cloned() {
                None => break,
                Some(t) => match &t.tok {
                    Tok::Ident(s) if s.eq_ignore_ascii_case("and") => {
                        p.i += 1;
                        if p.peek().is_none() {
                            return Err(p.end_err("expected a condition after AND"));
                        }
                    }
                    Tok::Ident(s) if s.eq_ignore_ascii_case("or") => {
                        return Err(err(
                            WHAT,
                            t.pos,
                            &t.text,
                            "OR is not supported (as in MLflow, conditions are joined by AND)",
                        ));
                    }
                    _ => {
                        return Err(err(WHAT, t.pos, &t.text, "expected AND or end of filter"));
                    }
                },
            }
        }
        Ok(Filter { conditions })
    }

    /// Whether `run` satisfies every condition.
    pub fn matches(&self, run: &Run) -> bool {
        self.conditions.iter().all(|c| c.matches(run))
    }
}

enum Field<'a> {
    Num(f64),
    Text(&'a str),
}

fn field<'a>(run: &'a Run, key: &SearchKey) -> Option<Field<'a>> {
    match key {
        SearchKey::Metric(k) => run.data.metrics.get(k).map(|m| Field::Num(m.value)),
        SearchKey::Param(k) => run.data.params.get(k).map(|v| Field::Text(v)),
        SearchKey::Tag(k) => run.data.tags.get(k).map(|v| Field::Text(v)),
        SearchKey::Attribute(a) => match a {
            RunAttribute::RunId => Some(Field::Text(&run.info.run_id)),
            RunAttribute::RunName => Some(Field::Text(&run.info.run_name)),
            RunAttribute::Status => Some(Field::Text(run.info.status.as_str())),
            RunAttribute::UserId => Some(Field::Text(&run.info.user_id)),
            RunAttribute::ArtifactUri => Some(Field::Text(&run.info.artifact_uri)),
            RunAttribute::StartTime => run.info.start_time.map(|t| Field::Num(t as f64)),
            RunAttribute::EndTime => run.info.end_time.map(|t| Field::Num(t as f64)),
        },
    }
}

impl Condition {
    /// Whether `run` satisfies this condition (false when the key is missing).
    pub fn matches(&self, run: &Run) -> bool {
        let Some(f) = field(run, &self.key) else {
            return false;
        };
        match (f, &self.value) {
            (Field::Num(x), SearchValue::Number(y)) => {
                let y = *y;
                match self.comparator {
                    Comparator::Eq => x == y,
                    Comparator::Ne => x != y,
                    Comparator::Lt => x < y,
                    Comparator::Le => x <= y,
                    Comparator::Gt => x > y,
                    Comparator::Ge => x >= y,
                    Comparator::Like | Comparator::ILike => false,
                }
            }
            (Field::Text(x), SearchValue::Text(y)) => match self.comparator {
                Comparator::Eq => x == y,
                Comparator::Ne => x != y,
                Comparator::Like => like(x, y),
                Comparator::ILike => like(&x.to_lowercase(), &y.to_lowercase()),
                _ => false,
            },
            _ => false,
        }
    }
}

/// SQL `LIKE`: `%` matches any run of characters, `_` exactly one.
fn like(text: &str, pattern: &str) -> bool {
    let t: Vec<char> = text.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    // Classic iterative wildcard match with backtracking to the last `%`.
    let (mut ti, mut pi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('%') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '_' || c == t[ti] => {
                ti += 1;
                pi += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi.min(p.len())..].iter().all(|&c| c == '%')
}

impl OrderBy {
    /// Parses one clause such as `metrics.accuracy DESC`.
    pub fn parse(input: &str) -> Result<OrderBy> {
        const WHAT: &str = "order_by";
        let toks = tokenize(WHAT, input)?;
        let mut p = Parser {
            what: WHAT,
            input,
            toks,
            i: 0,
        };
        let key = p.key()?;
        let ascending = match p.peek().cloned() {
            None => true,
            Some(t) => {
                let dir = match &t.tok {
                    Tok::Ident(s) if s.eq_ignore_ascii_case("asc") => true,
                    Tok::Ident(s) if s.eq_ignore_ascii_case("desc") => false,
                    _ => return Err(err(WHAT, t.pos, &t.text, "expected ASC, DESC or the end")),
                };
                p.i += 1;
                if let Some(extra) = p.peek() {
                    return Err(err(
                        WHAT,
                        extra.pos,
                        &extra.text,
                        "unexpected text after ASC/DESC (give one clause per order_by entry)",
                    ));
                }
                dir
            }
        };
        Ok(OrderBy { key, ascending })
    }

    /// Compares two runs by this clause; missing values (and NaN) sort last either way.
    fn compare(&self, a: &Run, b: &Run) -> Ordering {
        let fa = field(a, &self.key);
        let fb = field(b, &self.key);
        let missing = |f: &Option<Field<'_>>| match f {
            None => true,
            Some(Field::Num(x)) => x.is_nan(),
            Some(Field::Text(_)) => false,
        };
        match (missing(&fa), missing(&fb)) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Greater,
            (false, true) => return Ordering::Less,
            (false, false) => {}
        }
        let ord = match (fa, fb) {
            (Some(Field::Num(x)), Some(Field::Num(y))) => x.total_cmp(&y),
            (Some(Field::Text(x)), Some(Field::Text(y))) => x.cmp(y),
            _ => Ordering::Equal,
        };
        if self.ascending { ord } else { ord.reverse() }
    }
}

/// Sorts runs by `order` clauses; without clauses, newest first (then by run id).
pub(crate) fn sort_runs(runs: &mut [Run], order: &[OrderBy]) {
    let default = [OrderBy {
        key: SearchKey::Attribute(RunAttribute::StartTime),
        ascending: false,
    }];
    let clauses: &[OrderBy] = if order.is_empty() { &default } else { order };
    runs.sort_by(|a, b| {
        clauses
            .iter()
            .map(|c| c.compare(a, b))
            .find(|o| o.is_ne())
            .unwrap_or_else(|| a.info.run_id.cmp(&b.info.run_id))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns() {
        assert!(like("rf-100", "rf-%"));
        assert!(like("rf-100", "%100"));
        assert!(like("rf-100", "r_-1%"));
        assert!(like("abc", "%"));
        assert!(!like("abc", "ab"));
        assert!(!like("abc", "a_"));
        assert!(like("", "%"));
        assert!(like("a%b", "a%b"));
    }
}
