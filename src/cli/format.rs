//! Docker's `--format` handling for listings and `inspect -f`.
//!
//! Listing commands (`images`, `ps`, `history`, …) hand [`render_list`] one
//! JSON object per row, keyed by Docker's template field names. The format
//! string is interpreted exactly like docker/cli's `formatter.Context`:
//!
//! * absent, empty or `table`: the command's default table;
//! * `table TEMPLATE`: a table whose header row is TEMPLATE executed against
//!   a field → heading map, aligned like Docker's tabwriter;
//! * `json`: `{{json .}}` per row;
//! * anything else: the template executed once per row, each followed by a
//!   newline.
//!
//! [`render_one`] executes an `inspect -f` template against a whole object.
//!
//! Templates run on gotmpl (a port of Go's text/template) with Docker's
//! extra functions (`json`, `join`, `split`, `lower`, `upper`, `title`,
//! `pad`, `truncate`) registered on top of Go's builtins.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::sync::Arc;

use gotmpl::parse::{Expr, ListNode, Node, Parser, PipeNode};
use gotmpl::{FuncMap, MissingKey, Template, TemplateError, Value};

/// One field a listing can show: its template name and its table heading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// Template field name, e.g. `ID` for `{{.ID}}`.
    pub field: &'static str,
    /// Table heading, e.g. `IMAGE ID`.
    pub heading: &'static str,
}

/// A `--format` / `-f` failure, worded the way the Docker CLI words it.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The template does not parse. Docker's `inspect` and `info` exit 64 for this.
    #[error("template parsing error: {0}")]
    Parse(String),
    /// The template failed while running against a value. Docker also
    /// prefixes these with "template parsing error".
    #[error("template parsing error: {0}")]
    Exec(String),
    /// Writing the output failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

const TABLE_KEY: &str = "table";
const JSON_KEY: &str = "json";
const JSON_TEMPLATE: &str = "{{json .}}";

/// Docker's tabwriter settings: `tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)`.
const MIN_WIDTH: usize = 10;
const PADDING: usize = 3;

/// Go's text/template builtins; gotmpl registers these itself.
const BUILTINS: &[&str] = &[
    "and", "call", "eq", "ge", "gt", "html", "index", "js", "le", "len", "lt", "ne", "not", "or",
    "print", "printf", "println", "slice", "urlquery",
];

/// Prints `rows` according to a listing command's `--format` value.
///
/// Each row should be a JSON object holding every field in `all_headings`
/// (a field the template names but the row lacks is an error, as a missing
/// method is in Docker). `default_columns` make up the default table;
/// `all_headings` maps every field to its heading for `table` headers.
/// Nothing is written when the template fails.
pub fn render_list(
    rows: &[serde_json::Value],
    format: Option<&str>,
    default_columns: &[Column],
    all_headings: &[Column],
    out: &mut impl Write,
) -> Result<(), FormatError> {
    let spec = ListFormat::new(format, default_columns);
    let data = RowData::new(rows);
    let template = compile(&spec.template, docker_funcs(&data.json), MissingKey::Error)?;
    let mut body = String::new();
    for row in &data.rows {
        template.execute_fmt(&mut body, row).map_err(exec_error)?;
        body.push('\n');
    }
    if !spec.table {
        out.write_all(body.as_bytes())?;
        return Ok(());
    }
    let mut text = render_header(&spec.template, all_headings);
    text.push('\n');
    text.push_str(&body);
    out.write_all(align_columns(&text).as_bytes())?;
    Ok(())
}

/// Runs an `inspect -f` template against one object and writes the result
/// followed by a newline, as Docker does for each inspected element.
///
/// Unlike listings, the template is used verbatim (no `table`/`json`
/// keywords, no `\t` expansion), and a missing key prints `<no value>`.
pub fn render_one(
    value: &serde_json::Value,
    template: &str,
    out: &mut impl Write,
) -> Result<(), FormatError> {
    let mut orders = KeyOrders::default();
    let data = to_value(value, &mut orders);
    let json = Arc::new(JsonContext {
        orders,
        rows: HashSet::new(),
    });
    let template = compile(template, docker_funcs(&json), MissingKey::Invalid)?;
    let mut text = String::new();
    template.execute_fmt(&mut text, &data).map_err(exec_error)?;
    text.push('\n');
    out.write_all(text.as_bytes())?;
    Ok(())
}

/// Parses an `inspect -f` template without running it, so that a bad one is refused before
/// anything is looked up (Docker parses first, too).
pub fn check_one(template: &str) -> Result<(), FormatError> {
    let json = Arc::new(JsonContext {
        orders: KeyOrders::default(),
        rows: HashSet::new(),
    });
    compile(template, docker_funcs(&json), MissingKey::Invalid).map(|_| ())
}

/// The error of a `-f` template for `inspect` and `info`: Docker exits 64 (EX_USAGE) when the
/// template does not parse, and fails as any other command when it fails to run.
pub fn usage_error(e: FormatError) -> crate::Error {
    match e {
        FormatError::Parse(_) => crate::Error::Usage(e.to_string()),
        other => crate::Error::Invalid(other.to_string()),
    }
}

/// The `table …` format string Docker would use for these default columns.
pub fn default_table_format(columns: &[Column]) -> String {
    let cells: Vec<String> = columns
        .iter()
        .map(|c| format!("{{{{.{}}}}}", c.field))
        .collect();
    format!("{TABLE_KEY} {}", cells.join("\t"))
}

/// A listing format resolved the way docker/cli's `Context.preFormat` does.
struct ListFormat {
    table: bool,
    template: String,
}

impl ListFormat {
    fn new(format: Option<&str>, default_columns: &[Column]) -> Self {
        let given = match format {
            Some(f) if !f.is_empty() && f != TABLE_KEY => f.to_string(),
            _ => default_table_format(default_columns),
        };
        // Docker only checks the prefix, so "tablefoo" is a table of "foo".
        let (table, body) = match given.strip_prefix(TABLE_KEY) {
            Some(rest) => (true, rest),
            None if given == JSON_KEY => (false, JSON_TEMPLATE),
            None => (false, given.as_str()),
        };
        ListFormat {
            table,
            template: expand_escapes(body.trim_matches(' ')),
        }
    }
}

/// Turns the two-character sequences `\t` and `\n` that users type in a
/// shell into real tabs and newlines, like Docker's `strings.NewReplacer`.
fn expand_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let replacement = match (c, chars.peek()) {
            ('\\', Some('t')) => Some('\t'),
            ('\\', Some('n')) => Some('\n'),
            _ => None,
        };
        match replacement {
            Some(r) => {
                chars.next();
                out.push(r);
            }
            None => out.push(c),
        }
    }
    out
}

/// Executes the table template against the headings, the way Docker builds
/// a table header. Docker ignores header errors and keeps what was written
/// up to the failure, so this does too.
fn render_header(template: &str, headings: &[Column]) -> String {
    let map: BTreeMap<Arc<str>, Value> = headings
        .iter()
        .map(|c| (Arc::from(c.field), Value::from(c.heading)))
        .collect();
    let mut text = String::new();
    if let Ok(header) = compile(template, header_funcs(), MissingKey::Invalid) {
        header
            .execute_fmt(&mut text, &Value::Map(Arc::new(map)))
            .ok();
    }
    text
}

/// Parses a template with Docker's function set. Go rejects unknown
/// functions at parse time, while gotmpl only notices when it runs them,
/// so they are looked for first.
fn compile(source: &str, funcs: FuncMap, missing: MissingKey) -> Result<Template, FormatError> {
    check_functions(source, &funcs)?;
    Template::new("")
        .funcs(funcs)
        .missing_key(missing)
        .parse(source)
        .map_err(parse_error)
}

fn check_functions(source: &str, funcs: &FuncMap) -> Result<(), FormatError> {
    let (tree, defines) = Parser::new(source, "{{", "}}")
        .and_then(Parser::parse)
        .map_err(parse_error)?;
    check_parsed_to_the_end(source)?;
    let known = |name: &str| funcs.contains_key(name) || BUILTINS.contains(&name);
    let undefined = undefined_in_list(&tree, &known).or_else(|| {
        defines
            .iter()
            .find_map(|d| undefined_in_list(&d.body, &known))
    });
    match undefined {
        Some((line, name)) => Err(FormatError::Parse(format!(
            "template: :{line}: function {name:?} not defined"
        ))),
        None => Ok(()),
    }
}

/// Marks the end of the source, to see whether the parser got there.
const SENTINEL: &str = "\u{0}skiff-end-of-template";

/// gotmpl stops at an `{{end}}` or `{{else}}` that closes no block and drops the rest of the
/// template without a word, where Go refuses the template ("unexpected {{end}}"). Parsing the
/// source with a text sentinel after it shows whether the parser read it all: the sentinel is
/// then the end of the last top-level text node.
fn check_parsed_to_the_end(source: &str) -> Result<(), FormatError> {
    let marked = format!("{source}{SENTINEL}");
    let (tree, _) = Parser::new(&marked, "{{", "}}")
        .and_then(Parser::parse)
        .map_err(parse_error)?;
    let complete = matches!(tree.nodes.last(), Some(Node::Text(t)) if t.text.ends_with(SENTINEL));
    if complete {
        return Ok(());
    }
    let (line, keyword) = stray_keyword(source).unwrap_or((1, "end"));
    Err(FormatError::Parse(format!(
        "template: :{line}: unexpected {{{{{keyword}}}}}"
    )))
}

/// The line and keyword of the first `{{end}}` or `{{else}}` outside any block, for the
/// message only (the sentinel decides): actions are scanned by their first word.
fn stray_keyword(source: &str) -> Option<(usize, &'static str)> {
    let mut depth = 0usize;
    let mut rest = source;
    let mut line = 1;
    while let Some(open) = rest.find("{{") {
        line += rest[..open].matches('\n').count();
        let action = &rest[open + 2..];
        let close = action.find("}}").unwrap_or(action.len());
        let body = action[..close].trim_start_matches('-').trim_start();
        let word = body
            .split(|c: char| !c.is_ascii_alphanumeric())
            .next()
            .unwrap_or("");
        match word {
            "if" | "range" | "with" | "define" | "block" => depth += 1,
            "end" if depth == 0 => return Some((line, "end")),
            "end" => depth -= 1,
            "else" if depth == 0 => return Some((line, "else")),
            _ => {}
        }
        line += action[..close].matches('\n').count();
        rest = &action[close..];
    }
    None
}

type Known<'a> = dyn Fn(&str) -> bool + 'a;

fn undefined_in_list(list: &ListNode, known: &Known) -> Option<(usize, String)> {
    list.nodes.iter().find_map(|n| undefined_in_node(n, known))
}

fn undefined_in_node(node: &Node, known: &Known) -> Option<(usize, String)> {
    match node {
        Node::List(list) => undefined_in_list(list, known),
        Node::Action(action) => undefined_in_pipe(&action.pipe, known),
        Node::If(branch) | Node::Range(branch) | Node::With(branch) => {
            undefined_in_pipe(&branch.pipe, known)
                .or_else(|| undefined_in_list(&branch.body, known))
                .or_else(|| {
                    branch
                        .else_body
                        .as_ref()
                        .and_then(|e| undefined_in_list(e, known))
                })
        }
        Node::Template(call) => call.pipe.as_ref().and_then(|p| undefined_in_pipe(p, known)),
        Node::Define(define) => undefined_in_list(&define.body, known),
        Node::Text(_) | Node::Break(_) | Node::Continue(_) => None,
    }
}

fn undefined_in_pipe(pipe: &PipeNode, known: &Known) -> Option<(usize, String)> {
    pipe.commands
        .iter()
        .flat_map(|c| c.args.iter())
        .find_map(|e| undefined_in_expr(e, known))
}

fn undefined_in_expr(expr: &Expr, known: &Known) -> Option<(usize, String)> {
    match expr {
        Expr::Identifier(pos, name) if !known(name) => Some((pos.line, name.to_string())),
        Expr::Pipe(_, pipe) => undefined_in_pipe(pipe, known),
        Expr::Chain(_, inner, _) => undefined_in_expr(inner, known),
        _ => None,
    }
}

/// Go reports parse errors as "template: NAME:LINE: MSG" (no column), and
/// Docker's templates are unnamed.
fn parse_error(e: TemplateError) -> FormatError {
    match e {
        TemplateError::Parse { line, message, .. } | TemplateError::Lex { line, message, .. } => {
            FormatError::Parse(format!("template: :{line}: {message}"))
        }
        other => FormatError::Parse(format!("template: {}", go_message(&other))),
    }
}

/// gotmpl keeps no source position for run-time errors, so the Go-style
/// ":LINE:COL: … at <node>" part is missing from these.
fn exec_error(e: TemplateError) -> FormatError {
    match e {
        TemplateError::Io(io) => FormatError::Io(io),
        other => FormatError::Exec(format!("template: executing \"\": {}", go_message(&other))),
    }
}

/// Rewords gotmpl's errors with Go's text/template messages.
fn go_message(e: &TemplateError) -> String {
    match e {
        TemplateError::Exec(message) => message.clone(),
        TemplateError::MissingKey { key } => format!("map has no entry for key {key:?}"),
        TemplateError::ArgCount {
            name,
            expected,
            got,
        } => format!("wrong number of args for {name}: want {expected} got {got}"),
        TemplateError::IndexOutOfRange { index } => {
            format!("error calling index: index out of range: {index}")
        }
        TemplateError::UndefinedFunction(name) => format!("function {name:?} not defined"),
        TemplateError::UndefinedVariable(name) => format!("undefined variable {name:?}"),
        TemplateError::NotIterable(kind) => format!("range can't iterate over {kind}"),
        other => other.to_string(),
    }
}

/// Rows converted for gotmpl, plus what the `json` function needs to
/// print them like Docker.
struct RowData {
    rows: Vec<Value>,
    json: Arc<JsonContext>,
}

impl RowData {
    fn new(rows: &[serde_json::Value]) -> Self {
        let mut orders = KeyOrders::default();
        let rows: Vec<Value> = rows.iter().map(|r| row_value(r, &mut orders)).collect();
        let ids = rows.iter().filter_map(map_id).collect();
        RowData {
            rows,
            json: Arc::new(JsonContext { orders, rows: ids }),
        }
    }
}

/// A row's own keys are left unrecorded so `json` prints them sorted: Docker
/// marshals list rows through a map, which sorts them.
fn row_value(row: &serde_json::Value, orders: &mut KeyOrders) -> Value {
    match row {
        serde_json::Value::Object(object) => Value::Map(Arc::new(
            object
                .iter()
                .map(|(k, v)| (Arc::from(k.as_str()), to_value(v, orders)))
                .collect(),
        )),
        other => to_value(other, orders),
    }
}

/// Identity of a map value, used to recognise a listing row inside `json`.
fn map_id(value: &Value) -> Option<usize> {
    match value {
        Value::Map(map) => Some(Arc::as_ptr(map) as usize),
        _ => None,
    }
}

/// Everything the `json` template function knows beyond its argument.
struct JsonContext {
    orders: KeyOrders,
    /// Listing rows, which Docker marshals with HTML escaping (`<` as
    /// `\u003c`), unlike values nested in them or inspect objects.
    rows: HashSet<usize>,
}

/// gotmpl maps are sorted, but `{{json .Config}}` must print a Go struct's
/// fields in declaration order. This remembers the original key order of
/// each JSON object, keyed by its sorted key set.
#[derive(Default)]
struct KeyOrders(HashMap<String, Vec<Arc<str>>>);

impl KeyOrders {
    fn record(&mut self, object: &serde_json::Map<String, serde_json::Value>) {
        let keys: Vec<&str> = object.keys().map(String::as_str).collect();
        if keys.is_sorted() {
            return;
        }
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        let order = keys.into_iter().map(Arc::from).collect();
        self.0.insert(sorted.join("\0"), order);
    }

    fn order(&self, map: &BTreeMap<Arc<str>, Value>) -> Option<&[Arc<str>]> {
        let keys: Vec<&str> = map.keys().map(AsRef::as_ref).collect();
        self.0.get(&keys.join("\0")).map(Vec::as_slice)
    }
}

/// Converts JSON to a gotmpl value. Integers that fit stay `Int` so that
/// `{{.Size}}` prints `1234` and `eq .ExitCode 0` compares like Go's int.
fn to_value(json: &serde_json::Value, orders: &mut KeyOrders) -> Value {
    match json {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => number_value(n),
        serde_json::Value::String(s) => Value::from(s.as_str()),
        serde_json::Value::Array(items) => Value::from(
            items
                .iter()
                .map(|i| to_value(i, orders))
                .collect::<Vec<_>>(),
        ),
        serde_json::Value::Object(object) => {
            orders.record(object);
            Value::Map(Arc::new(
                object
                    .iter()
                    .map(|(k, v)| (Arc::from(k.as_str()), to_value(v, orders)))
                    .collect(),
            ))
        }
    }
}

fn number_value(n: &serde_json::Number) -> Value {
    if let Some(i) = n.as_i64() {
        Value::Int(i)
    } else if let Some(u) = n.as_u64() {
        Value::Uint(u)
    } else {
        Value::Float(n.as_f64().unwrap_or(f64::NAN))
    }
}

/// Converts a gotmpl value back to JSON for the `json` function; `None` for
/// what Go's encoder rejects (functions, NaN).
fn to_json(value: &Value, orders: &KeyOrders) -> Option<serde_json::Value> {
    Some(match value {
        Value::Nil => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Int(i) => serde_json::Value::from(*i),
        Value::Uint(u) => serde_json::Value::from(*u),
        Value::Float(f) => serde_json::Value::Number(serde_json::Number::from_f64(*f)?),
        Value::String(s) => serde_json::Value::from(s.as_ref()),
        Value::List(items) => serde_json::Value::Array(
            items
                .iter()
                .map(|i| to_json(i, orders))
                .collect::<Option<_>>()?,
        ),
        Value::Map(map) => serde_json::Value::Object(map_to_json(map, orders)?),
        Value::Function(_) => return None,
    })
}

fn map_to_json(
    map: &BTreeMap<Arc<str>, Value>,
    orders: &KeyOrders,
) -> Option<serde_json::Map<String, serde_json::Value>> {
    let sorted: Vec<Arc<str>> = map.keys().cloned().collect();
    let keys = orders.order(map).unwrap_or(&sorted);
    keys.iter()
        .map(|k| Some((k.to_string(), to_json(map.get(k)?, orders)?)))
        .collect()
}

/// Go's encoder always escapes U+2028/U+2029, and escapes `<`, `>`, `&`
/// when HTML escaping is on. Those characters only occur inside JSON
/// strings, so escaping the finished text is safe.
fn go_json_escape(text: &str, html: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' if html => out.push_str("\\u003c"),
            '>' if html => out.push_str("\\u003e"),
            '&' if html => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            _ => out.push(c),
        }
    }
    out
}

type FuncResult = gotmpl::Result<Value>;

/// Docker's `templates.basicFunctions`, plus an `index` that yields "" for
/// a missing string-map key as Go's typed maps do.
fn docker_funcs(json: &Arc<JsonContext>) -> FuncMap {
    let json = Arc::clone(json);
    let mut funcs = FuncMap::new();
    funcs.insert(
        "json".into(),
        Arc::new(move |args: &[Value]| func_json(args, &json)),
    );
    funcs.insert("split".into(), Arc::new(func_split));
    funcs.insert("join".into(), Arc::new(func_join));
    funcs.insert("title".into(), Arc::new(func_title));
    funcs.insert("lower".into(), Arc::new(func_lower));
    funcs.insert("upper".into(), Arc::new(func_upper));
    funcs.insert("pad".into(), Arc::new(func_pad));
    funcs.insert("truncate".into(), Arc::new(func_truncate));
    funcs.insert("index".into(), Arc::new(func_index));
    funcs
}

/// Docker's `templates.HeaderFunctions`: the string functions hand the
/// heading back unchanged so the header names the column; `pad` stays real
/// to keep the header aligned with padded cells.
fn header_funcs() -> FuncMap {
    let mut funcs = FuncMap::new();
    for (name, arity) in [
        ("json", 1),
        ("split", 2),
        ("join", 2),
        ("title", 1),
        ("lower", 1),
        ("upper", 1),
        ("truncate", 2),
    ] {
        funcs.insert(
            name.into(),
            Arc::new(move |args: &[Value]| {
                expect_args(name, args, arity)?;
                string_arg(&args[0])?;
                Ok(args[0].clone())
            }),
        );
    }
    funcs.insert("pad".into(), Arc::new(func_pad));
    funcs
}

fn func_json(args: &[Value], context: &JsonContext) -> FuncResult {
    expect_args("json", args, 1)?;
    let is_row = map_id(&args[0]).is_some_and(|id| context.rows.contains(&id));
    // Docker ignores encoding errors and prints nothing.
    let text = to_json(&args[0], &context.orders)
        .and_then(|j| serde_json::to_string(&j).ok())
        .map(|t| go_json_escape(&t, is_row))
        .unwrap_or_default();
    Ok(Value::from(text))
}

fn func_split(args: &[Value]) -> FuncResult {
    expect_args("split", args, 2)?;
    let text = string_arg(&args[0])?;
    let separator = string_arg(&args[1])?;
    // Go's strings.Split with an empty separator splits into characters.
    let parts: Vec<Value> = if separator.is_empty() {
        text.chars().map(|c| Value::from(c.to_string())).collect()
    } else {
        text.split(separator).map(Value::from).collect()
    };
    Ok(Value::from(parts))
}

fn func_join(args: &[Value]) -> FuncResult {
    expect_args("join", args, 2)?;
    let separator = string_arg(&args[1])?;
    let items = match &args[0] {
        // A null list is Go's nil slice, which joins to "".
        Value::Nil => return Ok(Value::from("")),
        Value::List(items) => items,
        other => return Err(wrong_type("[]string", other)),
    };
    let parts = items
        .iter()
        .map(|v| v.as_str().ok_or_else(|| wrong_type("[]string", &args[0])))
        .collect::<gotmpl::Result<Vec<_>>>()?;
    Ok(Value::from(parts.join(separator)))
}

fn func_title(args: &[Value]) -> FuncResult {
    expect_args("title", args, 1)?;
    Ok(Value::from(go_title(string_arg(&args[0])?)))
}

fn func_lower(args: &[Value]) -> FuncResult {
    expect_args("lower", args, 1)?;
    Ok(Value::from(string_arg(&args[0])?.to_lowercase()))
}

fn func_upper(args: &[Value]) -> FuncResult {
    expect_args("upper", args, 1)?;
    Ok(Value::from(string_arg(&args[0])?.to_uppercase()))
}

/// `pad STRING PREFIX SUFFIX`: surrounds a non-empty string with spaces.
fn func_pad(args: &[Value]) -> FuncResult {
    expect_args("pad", args, 3)?;
    let text = string_arg(&args[0])?;
    let prefix = count_arg("pad", &args[1])?;
    let suffix = count_arg("pad", &args[2])?;
    if text.is_empty() {
        return Ok(Value::from(""));
    }
    Ok(Value::from(format!(
        "{}{text}{}",
        " ".repeat(prefix),
        " ".repeat(suffix)
    )))
}

/// `truncate STRING N`: the first N bytes. Go may cut inside a character;
/// here the cut moves back to the previous character boundary instead.
fn func_truncate(args: &[Value]) -> FuncResult {
    expect_args("truncate", args, 2)?;
    let text = string_arg(&args[0])?;
    let length = int_arg(&args[1])?;
    if length < 0 {
        return Err(TemplateError::Exec(format!(
            "error calling truncate: runtime error: slice bounds out of range [:{length}]"
        )));
    }
    let length = length as usize;
    if text.len() < length {
        return Ok(args[0].clone());
    }
    let end = (0..=length)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    Ok(Value::from(&text[..end]))
}

/// Go's `index`, except that a key missing from a map of strings (or from
/// a null map) gives "" rather than `<no value>`: Docker indexes typed
/// `map[string]string` values such as labels, whose zero value is "".
fn func_index(args: &[Value]) -> FuncResult {
    let Some((first, keys)) = args.split_first() else {
        return Err(TemplateError::ArgCount {
            name: "index".into(),
            expected: 1,
            got: 0,
        });
    };
    keys.iter()
        .try_fold(first.clone(), |item, key| index_once(&item, key))
}

fn index_once(item: &Value, key: &Value) -> FuncResult {
    match (item, key) {
        (Value::Map(map), Value::String(k)) => Ok(map
            .get(k.as_ref())
            .cloned()
            .unwrap_or_else(|| missing_entry(map))),
        (Value::Nil, Value::String(_)) => Ok(Value::from("")),
        _ => item.index(key).map_err(|e| {
            let message = match e {
                TemplateError::IndexOutOfRange { index } => format!("index out of range: {index}"),
                TemplateError::Exec(m) => m,
                other => other.to_string(),
            };
            TemplateError::Exec(format!("error calling index: {message}"))
        }),
    }
}

fn missing_entry(map: &BTreeMap<Arc<str>, Value>) -> Value {
    if map.values().all(|v| matches!(v, Value::String(_))) {
        Value::from("")
    } else {
        Value::Nil
    }
}

/// Go's deprecated `strings.Title`: upper-cases the first letter of each
/// word, where words are split by spaces and ASCII punctuation.
fn go_title(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut previous = ' ';
    for c in text.chars() {
        if is_title_separator(previous) {
            let mut upper = c.to_uppercase();
            match (upper.next(), upper.next()) {
                (Some(u), None) => out.push(u),
                // No single-character title case (e.g. 'ß'): Go keeps it.
                _ => out.push(c),
            }
        } else {
            out.push(c);
        }
        previous = c;
    }
    out
}

fn is_title_separator(c: char) -> bool {
    if c.is_ascii() {
        return !(c.is_ascii_alphanumeric() || c == '_');
    }
    !c.is_alphanumeric() && c.is_whitespace()
}

fn expect_args(name: &str, args: &[Value], expected: usize) -> gotmpl::Result<()> {
    if args.len() == expected {
        return Ok(());
    }
    Err(TemplateError::ArgCount {
        name: name.into(),
        expected,
        got: args.len(),
    })
}

/// A string parameter, checked the way Go checks a `string` argument.
fn string_arg(value: &Value) -> gotmpl::Result<&str> {
    match value {
        Value::String(s) => Ok(s),
        Value::Nil => Err(TemplateError::Exec("invalid value; expected string".into())),
        other => Err(wrong_type("string", other)),
    }
}

fn int_arg(value: &Value) -> gotmpl::Result<i64> {
    match value {
        Value::Int(i) => Ok(*i),
        Value::Uint(u) => i64::try_from(*u).map_err(|_| wrong_type("int", value)),
        Value::Nil => Err(TemplateError::Exec("invalid value; expected int".into())),
        other => Err(wrong_type("int", other)),
    }
}

/// An `int` used as a repeat count; Go's `strings.Repeat` panics on a
/// negative one, which text/template reports as a call error.
fn count_arg(name: &str, value: &Value) -> gotmpl::Result<usize> {
    let count = int_arg(value)?;
    usize::try_from(count).map_err(|_| {
        TemplateError::Exec(format!(
            "error calling {name}: strings: negative Repeat count"
        ))
    })
}

fn wrong_type(expected: &str, got: &Value) -> TemplateError {
    TemplateError::Exec(format!(
        "wrong type for value; expected {expected}; got {}",
        go_type(got)
    ))
}

/// The Go type name a JSON-decoded value would have.
fn go_type(value: &Value) -> &'static str {
    match value {
        Value::Nil => "<nil>",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Uint(_) => "uint",
        Value::Float(_) => "float64",
        Value::String(_) => "string",
        Value::List(_) => "[]interface {}",
        Value::Map(_) => "map[string]interface {}",
        Value::Function(_) => "func",
    }
}

/// Aligns tab-terminated cells like Docker's fork of Go's text/tabwriter
/// with minwidth 10, padding 3 and space padding: each column is as wide
/// as its widest cell plus 3 (at least 10), computed per block of
/// consecutive lines that have that column; the text after a line's last
/// tab is never padded.
pub(crate) fn align_columns(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    // A form feed flushes the tabwriter, so columns never span one; it is
    // written out as a newline.
    for section in text.split_inclusive('\u{c}') {
        match section.strip_suffix('\u{c}') {
            Some(body) => out.push_str(&align_section(&format!("{body}\n"))),
            None => out.push_str(&align_section(section)),
        }
    }
    out
}

fn align_section(text: &str) -> String {
    let mut table = Table {
        lines: split_cells(text),
        out: String::with_capacity(text.len() * 2),
    };
    table.format(&mut Vec::new(), 0, table.lines.len());
    table.out
}

/// Splits text into lines of cells. Cells end at a tab (or vertical tab);
/// the text after the last one is the line's final, unaligned cell.
fn split_cells(text: &str) -> Vec<Vec<&str>> {
    let mut lines: Vec<Vec<&str>> = text
        .split('\n')
        .map(|line| line.split(['\t', '\u{b}']).collect())
        .collect();
    // Go's tabwriter only keeps an unterminated last cell that holds text.
    if let Some(last) = lines.last_mut() {
        if last.last().is_some_and(|c| c.is_empty()) {
            last.pop();
        }
    }
    lines
}

struct Table<'a> {
    lines: Vec<Vec<&'a str>>,
    out: String,
}

impl Table<'_> {
    /// Go's `Writer.format`: finds each block of lines having a cell in
    /// `widths.len()`, sizes that column, and recurses for the next column.
    fn format(&mut self, widths: &mut Vec<usize>, start: usize, end: usize) {
        let column = widths.len();
        let mut pending = start;
        let mut line = start;
        while line < end {
            if !self.has_column(line, column) {
                line += 1;
                continue;
            }
            self.write_lines(widths, pending, line);
            let block = line;
            let mut width = MIN_WIDTH;
            while line < end && self.has_column(line, column) {
                width = width.max(display_width(self.lines[line][column]) + PADDING);
                line += 1;
            }
            widths.push(width);
            self.format(widths, block, line);
            widths.pop();
            pending = line;
        }
        self.write_lines(widths, pending, end);
    }

    /// Whether a line has a tab-terminated cell in this column.
    fn has_column(&self, line: usize, column: usize) -> bool {
        column + 1 < self.lines[line].len()
    }

    fn write_lines(&mut self, widths: &[usize], start: usize, end: usize) {
        for i in start..end {
            for (j, cell) in self.lines[i].iter().enumerate() {
                self.out.push_str(cell);
                if let Some(width) = widths.get(j) {
                    let pad = width.saturating_sub(display_width(cell));
                    self.out.extend(std::iter::repeat_n(' ', pad));
                }
            }
            if i + 1 < self.lines.len() {
                self.out.push('\n');
            }
        }
    }
}

/// Terminal width of a cell, as go-runewidth measures it (Docker's fork
/// of tabwriter uses it): wide East Asian characters count 2, combining
/// and control characters 0.
fn display_width(text: &str) -> usize {
    text.chars().map(char_width).sum()
}

fn char_width(c: char) -> usize {
    let code = c as u32;
    if code < 0x20 || (0x7f..=0x9f).contains(&code) || code == 0xad {
        return 0;
    }
    if code < 0x300 {
        return 1;
    }
    if in_ranges(code, ZERO_WIDTH) {
        return 0;
    }
    if in_ranges(code, DOUBLE_WIDTH) {
        return 2;
    }
    1
}

fn in_ranges(code: u32, ranges: &[(u32, u32)]) -> bool {
    ranges
        .binary_search_by(|&(low, high)| {
            if high < code {
                std::cmp::Ordering::Less
            } else if low > code {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Common combining marks and zero-width format characters (an abridged
/// version of go-runewidth's tables).
const ZERO_WIDTH: &[(u32, u32)] = &[
    (0x0300, 0x036f),
    (0x0483, 0x0489),
    (0x0591, 0x05bd),
    (0x0610, 0x061a),
    (0x064b, 0x065f),
    (0x1ab0, 0x1aff),
    (0x1dc0, 0x1dff),
    (0x200b, 0x200f),
    (0x2028, 0x202e),
    (0x2060, 0x2064),
    (0x20d0, 0x20ff),
    (0xfe00, 0xfe0f),
    (0xfe20, 0xfe2f),
    (0xfeff, 0xfeff),
    (0xe0100, 0xe01ef),
];

/// East Asian wide and fullwidth ranges plus emoji (abridged from
/// go-runewidth's tables).
const DOUBLE_WIDTH: &[(u32, u32)] = &[
    (0x1100, 0x115f),
    (0x231a, 0x231b),
    (0x2329, 0x232a),
    (0x23e9, 0x23ec),
    (0x23f0, 0x23f0),
    (0x23f3, 0x23f3),
    (0x25fd, 0x25fe),
    (0x2614, 0x2615),
    (0x2648, 0x2653),
    (0x267f, 0x267f),
    (0x2693, 0x2693),
    (0x26a1, 0x26a1),
    (0x26aa, 0x26ab),
    (0x26bd, 0x26be),
    (0x26c4, 0x26c5),
    (0x26ce, 0x26ce),
    (0x26d4, 0x26d4),
    (0x26ea, 0x26ea),
    (0x26f2, 0x26f3),
    (0x26f5, 0x26f5),
    (0x26fa, 0x26fa),
    (0x26fd, 0x26fd),
    (0x2705, 0x2705),
    (0x270a, 0x270b),
    (0x2728, 0x2728),
    (0x274c, 0x274c),
    (0x274e, 0x274e),
    (0x2753, 0x2755),
    (0x2757, 0x2757),
    (0x2795, 0x2797),
    (0x27b0, 0x27b0),
    (0x27bf, 0x27bf),
    (0x2b1b, 0x2b1c),
    (0x2b50, 0x2b50),
    (0x2b55, 0x2b55),
    (0x2e80, 0x303e),
    (0x3041, 0x33ff),
    (0x3400, 0x4dbf),
    (0x4e00, 0x9fff),
    (0xa000, 0xa4cf),
    (0xa960, 0xa97f),
    (0xac00, 0xd7a3),
    (0xf900, 0xfaff),
    (0xfe10, 0xfe19),
    (0xfe30, 0xfe6f),
    (0xff00, 0xff60),
    (0xffe0, 0xffe6),
    (0x1f004, 0x1f004),
    (0x1f0cf, 0x1f0cf),
    (0x1f18e, 0x1f18e),
    (0x1f191, 0x1f19a),
    (0x1f200, 0x1f2ff),
    (0x1f300, 0x1f64f),
    (0x1f680, 0x1f6ff),
    (0x1f900, 0x1f9ff),
    (0x1fa70, 0x1faff),
    (0x20000, 0x2fffd),
    (0x30000, 0x3fffd),
];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const IMAGE_COLUMNS: &[Column] = &[
        Column {
            field: "Repository",
            heading: "REPOSITORY",
        },
        Column {
            field: "Tag",
            heading: "TAG",
        },
        Column {
            field: "ID",
            heading: "IMAGE ID",
        },
        Column {
            field: "CreatedSince",
            heading: "CREATED",
        },
        Column {
            field: "Size",
            heading: "SIZE",
        },
    ];

    const IMAGE_HEADINGS: &[Column] = &[
        Column {
            field: "Repository",
            heading: "REPOSITORY",
        },
        Column {
            field: "Tag",
            heading: "TAG",
        },
        Column {
            field: "ID",
            heading: "IMAGE ID",
        },
        Column {
            field: "Digest",
            heading: "DIGEST",
        },
        Column {
            field: "CreatedSince",
            heading: "CREATED",
        },
        Column {
            field: "CreatedAt",
            heading: "CREATED AT",
        },
        Column {
            field: "Size",
            heading: "SIZE",
        },
    ];

    fn image_rows() -> Vec<serde_json::Value> {
        vec![
            json!({
                "Repository": "alpine", "Tag": "latest", "ID": "c059bfaa849c",
                "Digest": "<none>", "CreatedSince": "2 weeks ago",
                "CreatedAt": "2021-11-24 20:19:40 +0000 UTC", "Size": "5.59MB",
            }),
            json!({
                "Repository": "registry.example.com/team/app", "Tag": "1.0",
                "ID": "0123456789ab", "Digest": "<none>",
                "CreatedSince": "3 months ago",
                "CreatedAt": "2021-08-01 10:00:00 +0000 UTC", "Size": "124MB",
            }),
        ]
    }

    fn list(rows: &[serde_json::Value], format: Option<&str>) -> String {
        let mut out = Vec::new();
        render_list(rows, format, IMAGE_COLUMNS, IMAGE_HEADINGS, &mut out)
            .unwrap_or_else(|e| panic!("render_list failed: {e}"));
        String::from_utf8(out).unwrap_or_default()
    }

    fn list_err(format: &str) -> String {
        let mut out = Vec::new();
        match render_list(
            &image_rows(),
            Some(format),
            IMAGE_COLUMNS,
            IMAGE_HEADINGS,
            &mut out,
        ) {
            Ok(()) => panic!("expected an error for {format:?}"),
            Err(e) => {
                assert!(out.is_empty(), "nothing is written on error");
                e.to_string()
            }
        }
    }

    fn one(value: &serde_json::Value, template: &str) -> String {
        let mut out = Vec::new();
        render_one(value, template, &mut out).unwrap_or_else(|e| panic!("render_one failed: {e}"));
        String::from_utf8(out).unwrap_or_default()
    }

    fn inspect_doc() -> serde_json::Value {
        json!({
            "Id": "sha256:abc",
            "Name": "/web",
            "RepoTags": ["alpine:latest", "alpine:3.15"],
            "Args": ["-c", "echo hi"],
            "Size": 1234,
            "Ratio": 0.5,
            "Config": {
                "Hostname": "abc",
                "Env": ["A=1", "B=2"],
                "Cmd": ["/bin/sh"],
                "Entrypoint": null,
                "Labels": {"a": "x", "b": "<y>"},
            },
            "State": {"Running": true, "ExitCode": 0},
        })
    }

    #[test]
    fn default_table_matches_docker_layout() {
        let want = "\
REPOSITORY                      TAG       IMAGE ID       CREATED        SIZE
alpine                          latest    c059bfaa849c   2 weeks ago    5.59MB
registry.example.com/team/app   1.0       0123456789ab   3 months ago   124MB
";
        assert_eq!(list(&image_rows(), None), want);
        assert_eq!(list(&image_rows(), Some("")), want);
        assert_eq!(list(&image_rows(), Some("table")), want);
    }

    #[test]
    fn single_row_table_uses_minimum_width() {
        let want = "\
REPOSITORY   TAG       IMAGE ID       CREATED       SIZE
alpine       latest    c059bfaa849c   2 weeks ago   5.59MB
";
        assert_eq!(list(&image_rows()[..1], None), want);
    }

    #[test]
    fn empty_table_still_prints_header() {
        assert_eq!(
            list(&[], None),
            "REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n"
        );
        assert_eq!(list(&[], Some("{{.ID}}")), "");
    }

    #[test]
    fn plain_template_prints_one_line_per_row() {
        assert_eq!(
            list(&image_rows(), Some("{{.ID}}")),
            "c059bfaa849c\n0123456789ab\n"
        );
    }

    #[test]
    fn plain_template_is_not_aligned_but_escapes_expand() {
        assert_eq!(
            list(&image_rows()[..1], Some(r"{{.Repository}}\t{{.Tag}}\n--")),
            "alpine\tlatest\n--\n"
        );
    }

    #[test]
    fn format_is_trimmed_of_spaces() {
        assert_eq!(list(&image_rows()[..1], Some("  {{.Tag}} ")), "latest\n");
    }

    #[test]
    fn table_template_builds_header_from_headings() {
        assert_eq!(
            list(&image_rows()[..1], Some("table {{.Repository}}:{{.Tag}}")),
            "REPOSITORY:TAG\nalpine:latest\n"
        );
        assert_eq!(
            list(&image_rows(), Some(r"table {{.ID}}\t{{.Size}}")),
            "IMAGE ID       SIZE\nc059bfaa849c   5.59MB\n0123456789ab   124MB\n"
        );
    }

    #[test]
    fn header_keeps_pad_but_ignores_string_functions() {
        assert_eq!(
            list(
                &image_rows()[..1],
                Some(r"table {{lower .Repository}}\t{{pad .Tag 1 1}}|")
            ),
            "REPOSITORY    TAG |\nalpine        latest |\n"
        );
    }

    #[test]
    fn header_names_unknown_heading_like_go() {
        let rows = [json!({"Repository": "a", "Extra": "b"})];
        assert_eq!(
            list(&rows, Some(r"table {{.Repository}}\t{{.Extra}}")),
            "REPOSITORY   <no value>\na            b\n"
        );
    }

    #[test]
    fn json_keyword_prints_sorted_html_escaped_rows() {
        let rows = [json!({"Tag": "latest", "Digest": "<none>", "ID": "abc"})];
        assert_eq!(
            list(&rows, Some("json")),
            "{\"Digest\":\"\\u003cnone\\u003e\",\"ID\":\"abc\",\"Tag\":\"latest\"}\n"
        );
        assert_eq!(list(&rows, Some("{{json .}}")), list(&rows, Some("json")));
    }

    #[test]
    fn json_of_a_field_is_not_html_escaped() {
        assert_eq!(
            list(&image_rows()[..1], Some("{{json .Digest}}")),
            "\"<none>\"\n"
        );
    }

    #[test]
    fn missing_field_in_listing_is_an_error() {
        assert_eq!(
            list_err("{{.Nope}}"),
            "template parsing error: template: executing \"\": map has no entry for key \"Nope\""
        );
    }

    #[test]
    fn parse_errors_read_like_go() {
        assert_eq!(
            list_err("{{.ID"),
            "template parsing error: template: :1: unclosed action"
        );
        assert_eq!(
            list_err("{{nope .ID}}"),
            "template parsing error: template: :1: function \"nope\" not defined"
        );
        assert_eq!(
            list_err("{{.ID}}\n{{if .ID}}{{(bad)}}{{end}}"),
            "template parsing error: template: :2: function \"bad\" not defined"
        );
    }

    #[test]
    fn blocks_closed_out_of_place_are_refused_like_go() {
        assert_eq!(
            list_err("{{end}}"),
            "template parsing error: template: :1: unexpected {{end}}"
        );
        assert_eq!(
            list_err("{{.ID}}\n{{if .ID}}x{{end}}{{end}}tail"),
            "template parsing error: template: :2: unexpected {{end}}"
        );
        assert_eq!(
            list_err("a{{- else -}}b"),
            "template parsing error: template: :1: unexpected {{else}}"
        );
        let mut out = Vec::new();
        let result = render_list(
            &[],
            Some("{{end}}"),
            IMAGE_COLUMNS,
            IMAGE_HEADINGS,
            &mut out,
        );
        assert!(matches!(result, Err(FormatError::Parse(_))), "{result:?}");
        // Blocks that close where they should are left alone.
        for (template, want) in [
            ("{{if .A}}{{.A}}{{else}}0{{end}}", "1\n"),
            ("{{define \"x\"}}d{{end}}{{template \"x\"}}", "d\n"),
            ("{{range $i, $v := .L}}{{$v}}{{end}}{{/* c */}}", "ab\n"),
            ("x {{- .A -}}", "x1\n"),
        ] {
            let mut out = Vec::new();
            let value = serde_json::json!({"A": 1, "L": ["a", "b"]});
            render_one(&value, template, &mut out).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), want, "{template}");
        }
    }

    #[test]
    fn unknown_function_fails_even_without_rows() {
        let mut out = Vec::new();
        let result = render_list(
            &[],
            Some("{{nope}}"),
            IMAGE_COLUMNS,
            IMAGE_HEADINGS,
            &mut out,
        );
        assert!(matches!(result, Err(FormatError::Parse(_))));
    }

    #[test]
    fn inspect_prints_fields_like_go() {
        let doc = inspect_doc();
        assert_eq!(one(&doc, "{{.Name}}"), "/web\n");
        assert_eq!(one(&doc, "{{.Size}}"), "1234\n");
        assert_eq!(one(&doc, "{{.Ratio}}"), "0.5\n");
        assert_eq!(one(&doc, "{{.Config.Env}}"), "[A=1 B=2]\n");
        assert_eq!(one(&doc, "{{.Config.Labels}}"), "map[a:x b:<y>]\n");
        assert_eq!(one(&doc, "{{.Missing}}"), "<no value>\n");
        assert_eq!(one(&doc, "{{.State.Running}}"), "true\n");
        assert_eq!(one(&doc, "{{if eq .State.ExitCode 0}}ok{{end}}"), "ok\n");
    }

    #[test]
    fn inspect_does_not_expand_escapes() {
        assert_eq!(one(&inspect_doc(), r"{{.Name}}\t"), "/web\\t\n");
    }

    #[test]
    fn inspect_range_index_and_len() {
        let doc = inspect_doc();
        assert_eq!(
            one(&doc, "{{range .RepoTags}}{{.}} {{end}}"),
            "alpine:latest alpine:3.15 \n"
        );
        assert_eq!(one(&doc, r#"{{index .Config.Labels "a"}}"#), "x\n");
        assert_eq!(one(&doc, "{{index .RepoTags 1}}"), "alpine:3.15\n");
        assert_eq!(one(&doc, "{{len .RepoTags}}"), "2\n");
        assert_eq!(
            one(&doc, r#"{{printf "%s=%d" .Name .Size}}"#),
            "/web=1234\n"
        );
        assert_eq!(
            one(
                &doc,
                "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}"
            ),
            "a=x;b=<y>;\n"
        );
    }

    #[test]
    fn index_of_missing_label_is_empty_like_typed_maps() {
        let doc = inspect_doc();
        assert_eq!(one(&doc, r#"{{index .Config.Labels "zz"}}"#), "\n");
        let no_labels = json!({"Config": {"Labels": null}});
        assert_eq!(one(&no_labels, r#"{{index .Config.Labels "a"}}"#), "\n");
    }

    #[test]
    fn index_out_of_range_is_an_exec_error() {
        let mut out = Vec::new();
        let err = render_one(&inspect_doc(), "{{index .RepoTags 5}}", &mut out)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "template parsing error: template: executing \"\": error calling index: index out of range: 5"
            )
        );
    }

    #[test]
    fn json_keeps_struct_field_order() {
        let doc = inspect_doc();
        assert_eq!(
            one(&doc, "{{json .Config}}"),
            "{\"Hostname\":\"abc\",\"Env\":[\"A=1\",\"B=2\"],\"Cmd\":[\"/bin/sh\"],\
             \"Entrypoint\":null,\"Labels\":{\"a\":\"x\",\"b\":\"<y>\"}}\n"
        );
        assert_eq!(one(&doc, "{{json .Config.Env}}"), "[\"A=1\",\"B=2\"]\n");
        assert_eq!(one(&doc, "{{json .Size}}"), "1234\n");
        assert_eq!(one(&doc, "{{json .Missing}}"), "null\n");
    }

    #[test]
    fn json_escapes_line_separators_like_go() {
        let doc = json!({"Text": "a\u{2028}b"});
        assert_eq!(one(&doc, "{{json .Text}}"), "\"a\\u2028b\"\n");
    }

    #[test]
    fn docker_string_functions() {
        let doc = inspect_doc();
        assert_eq!(one(&doc, r#"{{join .Args ","}}"#), "-c,echo hi\n");
        assert_eq!(one(&doc, r#"{{join .Config.Entrypoint " "}}"#), "\n");
        assert_eq!(one(&doc, "{{upper .Name}}"), "/WEB\n");
        assert_eq!(one(&doc, "{{lower .Config.Hostname}}"), "abc\n");
        assert_eq!(
            one(&doc, r#"{{title "hello wide-world x_y"}}"#),
            "Hello Wide-World X_y\n"
        );
        assert_eq!(one(&doc, r#"{{split "a:b:c" ":"}}"#), "[a b c]\n");
        assert_eq!(one(&doc, r#"{{index (split "a:b" ":") 1}}"#), "b\n");
        assert_eq!(one(&doc, r#"{{pad "x" 2 1}}|{{pad "" 2 1}}|"#), "  x ||\n");
        assert_eq!(one(&doc, r#"{{truncate "abcdef" 3}}"#), "abc\n");
        assert_eq!(one(&doc, r#"{{truncate "ab" 3}}"#), "ab\n");
        assert_eq!(one(&doc, "{{println .Name}}"), "/web\n\n");
    }

    #[test]
    fn string_function_rejects_wrong_type() {
        let mut out = Vec::new();
        let err = render_one(&inspect_doc(), "{{upper .Size}}", &mut out)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "template parsing error: template: executing \"\": wrong type for value; expected string; got int"
            )
        );
    }

    #[test]
    fn tabwriter_pads_per_block_and_skips_last_cell() {
        let text = "a\tbb\tc\nlonger-than-ten\tx\ty\nno tabs here\nz\tw\n";
        let want = "\
a                 bb        c
longer-than-ten   x         y
no tabs here
z         w
";
        assert_eq!(align_columns(text), want);
    }

    #[test]
    fn tabwriter_pads_empty_cells_and_trailing_tabs() {
        assert_eq!(align_columns("a\t\tb\n"), "a                   b\n");
        assert_eq!(align_columns("a\t\n"), "a         \n");
        assert_eq!(align_columns("x\ty"), "x         y");
    }

    #[test]
    fn tabwriter_counts_wide_characters_twice() {
        assert_eq!(display_width("日本"), 4);
        assert_eq!(display_width("e\u{301}"), 1);
        assert_eq!(
            align_columns("日本語テキスト\tb\nx\ty\n"),
            "日本語テキスト   b\nx                y\n"
        );
    }

    #[test]
    fn form_feed_breaks_columns() {
        assert_eq!(
            align_columns("long-cell-here\ta\n\x0cb\tc\n"),
            "long-cell-here   a\n\nb         c\n"
        );
    }

    #[test]
    fn escape_expansion_is_left_to_right() {
        assert_eq!(expand_escapes(r"a\tb\nc\\t\x"), "a\tb\nc\\\t\\x");
    }

    #[test]
    fn default_table_format_joins_fields() {
        assert_eq!(
            default_table_format(&IMAGE_COLUMNS[..2]),
            "table {{.Repository}}\t{{.Tag}}"
        );
    }
}
