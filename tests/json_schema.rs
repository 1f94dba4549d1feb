//! docs/json.md read as the schema of every tool's JSON Lines records, and
//! the one check every JSON line the tests parse goes through
//! ([`check_line`], from `util::json_lines`).
//!
//! The document's machine-read parts (see its "How this file is checked"):
//! - the table under `## Record types per tool`: `| tool | records |`, each
//!   tool of tools/ once, its record types as code spans;
//! - field tables `| field | type | presence | meaning |`, each under a
//!   heading ``### `TYPE`: SCOPE`` (TYPE: one or more record types,
//!   comma-separated, or `*`, every record of those tools; SCOPE: `every
//!   tool` or tool names, comma-separated). A record's
//!   fields are the union of the tables that name its type and its tool.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::OnceLock;

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use serde::de::{Deserialize, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// The version every record carries in `schema` (src/output.rs JSON_SCHEMA).
pub const SCHEMA: u64 = 1;

const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/json.md");

/// A JSON type as the tables name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Ty {
    String,
    /// A kernel-supplied string: a string, or `{"bytes": "<base64>"}`.
    Text,
    Integer,
    Number,
    Boolean,
    Array,
    Object,
    Null,
}

impl Ty {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "string" => Self::String,
            "text" => Self::Text,
            "integer" => Self::Integer,
            "number" => Self::Number,
            "boolean" => Self::Boolean,
            "array" => Self::Array,
            "object" => Self::Object,
            "null" => Self::Null,
            _ => return None,
        })
    }

    fn matches(self, v: &Value) -> bool {
        match self {
            Self::String => v.is_string(),
            Self::Text => {
                v.is_string()
                    || v.as_object().is_some_and(|m| {
                        m.len() == 1 && m.get("bytes").is_some_and(Value::is_string)
                    })
            }
            Self::Integer => v.is_i64() || v.is_u64(),
            Self::Number => v.is_number(),
            Self::Boolean => v.is_boolean(),
            Self::Array => v.is_array(),
            Self::Object => v.is_object(),
            Self::Null => v.is_null(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// `name`, `parent.name`, `list[]`, `list[].name`, `map.*`.
    pub path: String,
    pub types: Vec<Ty>,
    pub always: bool,
    /// Where it is documented (line of docs/json.md).
    pub line: usize,
}

/// docs/json.md, parsed.
#[derive(Debug, Default)]
pub struct Schema {
    /// Tool -> its record types (the index table).
    pub types: BTreeMap<String, BTreeSet<String>>,
    /// (tool, type) -> path -> field.
    pub fields: BTreeMap<(String, String), BTreeMap<String, Field>>,
}

/// The schema of this checkout's docs/json.md (parsed once; a malformed
/// document fails every test that checks JSON, naming the line).
pub fn schema() -> &'static Schema {
    static S: OnceLock<Schema> = OnceLock::new();
    S.get_or_init(|| {
        let text = std::fs::read_to_string(DOC).unwrap_or_else(|e| panic!("{DOC}: {e}"));
        parse(&text).unwrap_or_else(|e| panic!("{DOC}: {e}"))
    })
}

/// One table: its heading's type and scope, its rows' cells.
struct Table {
    heading: Option<(String, usize)>,
    line: usize,
    rows: Vec<(usize, Vec<String>)>,
}

/// The tables of a Markdown text, cells as plain text (code spans'
/// contents included), each with the last `###` heading before it.
fn tables(text: &str) -> Vec<Table> {
    let line_of = |off: usize| text[..off].matches('\n').count() + 1;
    let mut out = Vec::new();
    let mut heading: Option<(String, usize)> = None;
    let mut in_h3 = None::<(String, usize)>;
    let mut cur: Option<Table> = None;
    let mut row: Option<(usize, Vec<String>)> = None;
    let mut cell: Option<String> = None;
    for (ev, range) in Parser::new_ext(text, Options::ENABLE_TABLES).into_offset_iter() {
        match ev {
            Event::Start(Tag::Heading { level, .. }) => {
                in_h3 = Some((String::new(), line_of(range.start)));
                if level != HeadingLevel::H3 {
                    in_h3 = None;
                    heading = None;
                }
            }
            Event::End(TagEnd::Heading(_)) => heading = in_h3.take(),
            Event::Start(Tag::Table(_)) => {
                cur = Some(Table {
                    heading: heading.clone(),
                    line: line_of(range.start),
                    rows: Vec::new(),
                })
            }
            Event::End(TagEnd::Table) => out.extend(cur.take()),
            Event::Start(Tag::TableHead) | Event::Start(Tag::TableRow) => {
                row = Some((line_of(range.start), Vec::new()))
            }
            Event::End(TagEnd::TableHead) | Event::End(TagEnd::TableRow) => {
                if let (Some(t), Some(r)) = (cur.as_mut(), row.take()) {
                    t.rows.push(r);
                }
            }
            Event::Start(Tag::TableCell) => cell = Some(String::new()),
            Event::End(TagEnd::TableCell) => {
                if let (Some(r), Some(c)) = (row.as_mut(), cell.take()) {
                    r.1.push(c.trim().to_string());
                }
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some(c) = cell.as_mut() {
                    c.push_str(&t);
                } else if let Some((h, _)) = in_h3.as_mut() {
                    h.push_str(&t);
                }
            }
            _ => {}
        }
    }
    out
}

/// Parses the document (see the module doc); errors name the line.
pub fn parse(text: &str) -> Result<Schema, String> {
    let mut s = Schema::default();
    let mut field_tables = Vec::new();
    for t in tables(text) {
        let Some((_, head)) = t.rows.first() else {
            continue;
        };
        let head: Vec<&str> = head.iter().map(String::as_str).collect();
        match head.as_slice() {
            ["tool", "records"] => {
                for (line, r) in &t.rows[1..] {
                    let [tool, recs] = r.as_slice() else {
                        return Err(format!("line {line}: want | tool | records |"));
                    };
                    let set: BTreeSet<String> = recs
                        .split(',')
                        .map(|x| x.trim().to_string())
                        .filter(|x| !x.is_empty())
                        .collect();
                    if set.is_empty() || s.types.insert(tool.clone(), set).is_some() {
                        return Err(format!("line {line}: tool {tool} empty or listed twice"));
                    }
                }
            }
            ["field", "type", "presence", "meaning"] => field_tables.push(t),
            _ => {}
        }
    }
    if s.types.is_empty() {
        return Err("no `| tool | records |` table".into());
    }
    for t in field_tables {
        let Some((h, hline)) = &t.heading else {
            return Err(format!(
                "line {}: a field table under no ### heading",
                t.line
            ));
        };
        let Some((ty, scope)) = h.split_once(':') else {
            return Err(format!(
                "line {hline}: heading {h:?} is not \"`TYPE`: SCOPE\""
            ));
        };
        let tys: Vec<&str> = ty.split(',').map(str::trim).collect();
        let tools: Vec<String> = match scope.trim() {
            "every tool" => s.types.keys().cloned().collect(),
            sc => sc.split(',').map(|x| x.trim().to_string()).collect(),
        };
        for tool in &tools {
            let Some(known) = s.types.get(tool) else {
                return Err(format!("line {hline}: {tool:?} is not in the tool table"));
            };
            for ty in &tys {
                if *ty != "*" && !known.contains(*ty) {
                    return Err(format!(
                        "line {hline}: {tool} has no record `{ty}` in the tool table"
                    ));
                }
            }
        }
        for (line, r) in &t.rows[1..] {
            let [path, types, presence, meaning] = r.as_slice() else {
                return Err(format!("line {line}: want 4 cells"));
            };
            if meaning.is_empty() {
                return Err(format!("line {line}: {path}: no meaning"));
            }
            let types = types
                .split(" or ")
                .map(|x| Ty::parse(x.trim()).ok_or_else(|| format!("line {line}: type {x:?}")))
                .collect::<Result<Vec<_>, _>>()?;
            let always = match presence.as_str() {
                "always" => true,
                "optional" => false,
                p => return Err(format!("line {line}: presence {p:?} (always or optional)")),
            };
            let f = Field {
                path: path.clone(),
                types,
                always,
                line: *line,
            };
            for tool in &tools {
                let recs: Vec<String> = match tys.as_slice() {
                    ["*"] => s.types[tool].iter().cloned().collect(),
                    t => t.iter().map(|t| t.to_string()).collect(),
                };
                for rec in recs {
                    let m = s.fields.entry((tool.clone(), rec.clone())).or_default();
                    if let Some(old) = m.get(path) {
                        if (&old.types, old.always) != (&f.types, f.always) {
                            return Err(format!(
                                "line {line}: {tool} `{rec}` {path} disagrees with line {}",
                                old.line
                            ));
                        }
                    }
                    m.insert(path.clone(), f.clone());
                }
            }
        }
    }
    for (tool, recs) in &s.types {
        for rec in recs {
            let key = (tool.clone(), rec.clone());
            let own = s.fields.get(&key).map_or(0, |m| {
                m.keys()
                    .filter(|p| !["type", "schema"].contains(&p.as_str()))
                    .count()
            });
            if own == 0 && rec != "summary" {
                return Err(format!("{tool} `{rec}`: no field table documents it"));
            }
        }
    }
    Ok(s)
}

/// A JSON value, parsed refusing duplicate keys (serde_json keeps the last
/// one silently: a record with two `pid`s would pass unseen).
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Strict;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Strict, E> {
        Ok(Strict(v.into()))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Strict, E> {
        Ok(Strict(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Strict, E> {
        Ok(Strict(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Strict, E> {
        Ok(Strict(v.into()))
    }
    fn visit_str<E>(self, v: &str) -> Result<Strict, E> {
        Ok(Strict(v.into()))
    }
    fn visit_unit<E>(self) -> Result<Strict, E> {
        Ok(Strict(Value::Null))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Strict, A::Error> {
        let mut v = Vec::new();
        while let Some(Strict(x)) = a.next_element()? {
            v.push(x);
        }
        Ok(Strict(Value::Array(v)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Strict, A::Error> {
        let mut m = Map::new();
        while let Some(k) = a.next_key::<String>()? {
            let Strict(v) = a.next_value()?;
            if m.contains_key(&k) {
                return Err(A::Error::custom(format!("duplicate field {k:?}")));
            }
            m.insert(k, v);
        }
        Ok(Strict(Value::Object(m)))
    }
}

/// Checks the value at `path` against `fields`, recursing where the
/// document describes the inside (`path.x`, `path[]`, `path.*`).
fn check_value(fields: &BTreeMap<String, Field>, path: &str, v: &Value, errs: &mut Vec<String>) {
    let f = match fields.get(path) {
        Some(f) => f,
        None => {
            let star = match path.rsplit_once('.') {
                Some((parent, _)) => format!("{parent}.*"),
                None => String::new(),
            };
            match fields.get(&star) {
                Some(f) => f,
                None => return errs.push(format!("{path}: not documented (= {v})")),
            }
        }
    };
    if !f.types.iter().any(|t| t.matches(v)) {
        errs.push(format!(
            "{path}: {v} is not {:?} (line {})",
            f.types, f.line
        ));
        return;
    }
    let pat = |p: &str| f.path.clone() + p;
    match v {
        Value::Object(m) if fields.keys().any(|k| k.starts_with(&pat("."))) => {
            check_object(fields, &format!("{path}."), &pat("."), m, errs)
        }
        Value::Array(a) if fields.contains_key(&pat("[]")) => {
            for x in a {
                check_value(fields, &pat("[]"), x, errs);
            }
        }
        _ => {}
    }
}

/// An object's keys under `prefix` (its path and a dot; `doc` is the
/// documented spelling, `a[].` for elements of `a`); its `always` fields
/// must be there.
fn check_object(
    fields: &BTreeMap<String, Field>,
    prefix: &str,
    doc: &str,
    m: &Map<String, Value>,
    errs: &mut Vec<String>,
) {
    for (k, v) in m {
        check_value(fields, &format!("{doc}{k}"), v, errs);
    }
    for (p, f) in fields.range(doc.to_string()..) {
        let Some(name) = p.strip_prefix(doc) else {
            break;
        };
        let direct = !name.contains(['.', '[']) && name != "*";
        if direct && f.always && !m.contains_key(name) {
            errs.push(format!("{prefix}{name}: missing (always, line {})", f.line));
        }
    }
}

/// Why record `v` (a line of `tool`'s output) does not match the
/// document; empty when it does.
pub fn problems(tool: &str, line: &str, v: &Value) -> Vec<String> {
    let s = schema();
    let Some(types) = s.types.get(tool) else {
        return vec![format!("{tool} is not in docs/json.md's tool table")];
    };
    let Some(m) = v.as_object() else {
        return vec!["not a JSON object".into()];
    };
    let Some(ty) = m.get("type").and_then(Value::as_str) else {
        return vec!["no string `type`".into()];
    };
    if !types.contains(ty) {
        return vec![format!("type {ty:?} is not one of {tool}'s: {types:?}")];
    }
    let mut errs = Vec::new();
    let head = format!("{{\"type\":{},\"schema\":", Value::from(ty));
    if !line.starts_with(&head) {
        errs.push("does not start with `type`, then `schema`".into());
    }
    if m.get("schema").and_then(Value::as_u64) != Some(SCHEMA) {
        errs.push(format!("schema is not {SCHEMA}"));
    }
    let empty = BTreeMap::new();
    let fields = s
        .fields
        .get(&(tool.to_string(), ty.to_string()))
        .unwrap_or(&empty);
    check_object(fields, "", "", m, &mut errs);
    errs
}

/// Parses one line a tool wrote and checks it against docs/json.md for
/// one of `tools` (which tool wrote it, when a test ran several); panics
/// saying what does not match.
pub fn check_line(tools: &[String], line: &str) -> Value {
    let v = match serde_json::from_str::<Strict>(line) {
        Ok(Strict(v)) => v,
        Err(e) => panic!("not JSON ({e}): {line:?}"),
    };
    assert!(
        !tools.is_empty(),
        "a JSON line, but this test thread started no tool (use util::json_lines_of): {line}"
    );
    let mut why = String::new();
    for t in tools {
        let p = problems(t, line, &v);
        if p.is_empty() {
            return v;
        }
        let _ = write!(why, "\n  as {t}: {}", p.join("; "));
    }
    panic!("a record that docs/json.md does not describe:\n  {line}{why}");
}

/// The document parses, lists exactly the tools of tools/, and says what
/// `type` and `schema` are in every record.
#[test]
fn docs_json_md_describes_every_tool() {
    let s = schema();
    let listed: Vec<String> = s.types.keys().cloned().collect();
    assert_eq!(
        listed,
        crate::util::tools(),
        "docs/json.md's tool table vs tools/"
    );
    for (tool, recs) in &s.types {
        for rec in recs {
            let f = &s.fields[&(tool.clone(), rec.clone())];
            for p in ["type", "schema"] {
                assert!(f.get(p).is_some_and(|f| f.always), "{tool} `{rec}`: {p}");
            }
        }
    }
}

/// The checker itself: what it must refuse, on a small document.
#[test]
fn the_checker_refuses_what_the_document_does_not_say() {
    let doc = "\
## Record types per tool

| tool | records |
| --- | --- |
| t | `event` |

### `*`: every tool

| field | type | presence | meaning |
| --- | --- | --- | --- |
| `type` | string | always | the record type |
| `schema` | integer | always | 1 |

### `event`: t

| field | type | presence | meaning |
| --- | --- | --- | --- |
| `pid` | integer | always | a PID |
| `comm` | text | always | its name |
| `ms` | number or null | optional | a time |
| `argv` | array | always | the arguments |
| `argv[]` | string | always | one |
| `o` | object | always | nested |
| `o.a` | integer | always | nested a |
";
    let s = parse(doc).unwrap();
    let f = &s.fields[&("t".into(), "event".into())];
    let check = |line: &str| -> Vec<String> {
        let v: Value = serde_json::from_str(line).unwrap();
        let mut errs = Vec::new();
        let m = v.as_object().unwrap();
        check_object(f, "", "", m, &mut errs);
        errs
    };
    let good =
        r#"{"type":"event","schema":1,"pid":1,"comm":{"bytes":"/w=="},"argv":["a"],"o":{"a":1}}"#;
    assert_eq!(check(good), Vec::<String>::new());
    let bad = [
        (
            r#"{"type":"event","schema":1,"comm":"x","argv":[],"o":{"a":1}}"#,
            "pid: missing",
        ),
        (
            r#"{"type":"event","schema":1,"pid":"1","comm":"x","argv":[],"o":{"a":1}}"#,
            "pid: \"1\"",
        ),
        (
            r#"{"type":"event","schema":1,"pid":1.5,"comm":"x","argv":[],"o":{"a":1}}"#,
            "pid: 1.5",
        ),
        (
            r#"{"type":"event","schema":1,"pid":1,"comm":"x","argv":[2],"o":{"a":1}}"#,
            "argv[]: 2",
        ),
        (
            r#"{"type":"event","schema":1,"pid":1,"comm":"x","argv":[],"o":{}}"#,
            "o.a: missing",
        ),
        (
            r#"{"type":"event","schema":1,"pid":1,"comm":"x","argv":[],"o":{"a":1,"b":2}}"#,
            "o.b: not documented",
        ),
        (
            r#"{"type":"event","schema":1,"pid":1,"comm":"x","argv":[],"o":{"a":1},"new":0}"#,
            "new: not documented",
        ),
        (
            r#"{"type":"event","schema":1,"pid":1,"comm":{"b":"x"},"argv":[],"o":{"a":1}}"#,
            "comm: ",
        ),
    ];
    for (line, want) in bad {
        let e = check(line);
        assert!(e.iter().any(|e| e.starts_with(want)), "{line}: {e:?}");
    }
    let dup = serde_json::from_str::<Strict>(r#"{"pid":1,"pid":2}"#);
    assert!(dup.is_err_and(|e| e.to_string().contains("duplicate field")));
    // Malformed documents are refused, naming the line.
    for (from, to) in [
        ("| always | a PID", "| sometimes | a PID"),
        ("| integer | always | a PID", "| int | always | a PID"),
        ("### `event`: t", "### `event`: u"),
        ("### `event`: t", "### `exec`: t"),
    ] {
        assert!(parse(&doc.replace(from, to)).is_err(), "{to}");
    }
}
