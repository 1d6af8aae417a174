//! The streaming engine: one pass per file (per CSV dialect), record by record, with
//! one reused `ByteRecord`, so memory stays flat whatever the file size.

use csv::{ByteRecord, ReaderBuilder};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{BufReader, Read};
use std::path::Path;
use std::rc::Rc;

use super::ameriflux::AmerifluxChecker;
use super::findings::{AmfLevel, Code, Collector, Finding, Issue, Severity, Status};
use super::spec::Standard;
use super::table::TableChecker;

/// What a standard's checks do with each part of a file.
pub trait Checker {
    /// The file's first record, on physical line `line`.
    fn header(&mut self, line: u64, labels: &ByteRecord, out: &mut Collector);
    fn row(&mut self, row: u64, record: &ByteRecord, out: &mut Collector);
    /// Empty lines the CSV reader skipped, starting at line `row`.
    fn blank_lines(&mut self, _row: u64, _count: u64, _out: &mut Collector) {}
    fn finish(&mut self, out: &mut Collector);
    /// The column labels, when the checker found the header somewhere other than the
    /// first row (a layout's header search, `headerRows`).
    fn found_header(&self) -> Option<&[String]> {
        None
    }
    /// Keys the file defines and uses, for the rules between files.
    fn references(&mut self) -> super::references::References {
        Default::default()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// The report for one file.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FileReport {
    pub path: String,
    pub standards: Vec<String>,
    pub status: Status,
    /// The AmeriFlux format QA/QC status (the worst format-check level), when an
    /// AmeriFlux standard was applied; this is what the conformance suite states.
    pub ameriflux_status: Option<AmfLevel>,
    /// The AmeriFlux data QA/QC status (physical range), when one was applied.
    pub ameriflux_data_status: Option<AmfLevel>,
    pub bytes: u64,
    pub rows: u64,
    pub errors: u64,
    pub warnings: u64,
    pub findings: Vec<Finding>,
    /// Findings beyond the per-check cap, counted by standard, code and severity.
    pub suppressed: Vec<Suppressed>,
    /// The labels of the file's first row, kept so dataset rules (every column defined
    /// in the data dictionary) work from a stored report without reading the file again.
    #[serde(default)]
    pub columns: Vec<String>,
    /// A digest of what outside the file its checks used (a data package's description
    /// of it, its schema, the tables its foreign keys name); a stored report is reused
    /// only while this is unchanged.
    #[serde(default)]
    pub depends_on: Option<String>,
    /// Keys (samples, locations, methods, terms…) the file defines and uses.
    #[serde(
        default,
        skip_serializing_if = "super::references::References::is_empty"
    )]
    pub references: super::references::References,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Suppressed {
    pub standard: String,
    pub code: Code,
    pub severity: Severity,
    pub count: u64,
}

impl FileReport {
    /// A report with no findings yet, for a file of `bytes` bytes shown as `path`.
    pub fn empty(path: &str, standards: Vec<String>, bytes: u64) -> FileReport {
        FileReport {
            path: path.to_string(),
            standards,
            status: Status::Ok,
            ameriflux_status: None,
            ameriflux_data_status: None,
            bytes,
            rows: 0,
            errors: 0,
            warnings: 0,
            findings: Vec::new(),
            suppressed: Vec::new(),
            columns: Vec::new(),
            depends_on: None,
            references: Default::default(),
        }
    }

    /// Adds one standard's findings, counting them.
    pub fn absorb(&mut self, standard: &str, out: Collector) {
        self.errors += out.errors;
        self.warnings += out.warnings;
        for ((code, severity), count) in out.suppressed {
            self.suppressed.push(Suppressed {
                standard: standard.to_string(),
                code,
                severity,
                count,
            });
        }
        let path = &self.path;
        self.findings.extend(
            out.issues
                .into_iter()
                .map(|i| i.found_in(path.clone(), standard)),
        );
        self.status = Status::of(self.errors, self.warnings);
    }
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Validates one file against the given standards. `shown` is the name used in findings.
pub fn validate_file(
    path: &Path,
    shown: &str,
    standards: &[&Standard],
) -> Result<FileReport, ValidateError> {
    let io = |source| ValidateError::Io {
        path: shown.to_string(),
        source,
    };
    // File-name rules (AmeriFlux's site and period) judge the name the user gave the file,
    // not where its bytes happen to be stored (a staged upload has a random name).
    let file_name = shown
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(shown)
        .to_string();
    let bytes = std::fs::metadata(path).map_err(io)?.len();
    let standards: Vec<&Standard> = standards
        .iter()
        .copied()
        .filter(|s| s.checks_tables())
        .collect();
    let mut report = FileReport::empty(
        shown,
        standards.iter().map(|s| s.name.clone()).collect(),
        bytes,
    );
    // Standards that read the file the same way share one pass.
    let mut groups: Vec<Vec<&Standard>> = Vec::new();
    for s in standards {
        match groups
            .iter_mut()
            .find(|g| g[0].dialect.same_reading(&s.dialect))
        {
            Some(g) => g.push(s),
            None => groups.push(vec![s]),
        }
    }
    for group in groups {
        let mut checkers: Vec<Box<dyn Checker + '_>> = Vec::new();
        let mut collectors: Vec<Collector> = Vec::new();
        for s in &group {
            let mut out = Collector::default();
            if let Some(amf) = &s.ameriflux {
                checkers.push(Box::new(AmerifluxChecker::new(amf, &file_name, &mut out)));
            } else if let Some(layout) = &s.wssc {
                checkers.push(Box::new(super::wssc::WsscChecker::new(s, layout)));
            } else {
                checkers.push(Box::new(TableChecker::new(s, &file_name, &mut out)));
            }
            collectors.push(out);
        }
        let (rows, labels) =
            read_pass(path, &group[0].dialect, &mut checkers, &mut collectors).map_err(io)?;
        report.rows = rows;
        for c in &mut checkers {
            let refs = c.references();
            report.references.defines.extend(refs.defines);
            report.references.uses.extend(refs.uses);
        }
        if let Some(found) = checkers.iter().find_map(|c| c.found_header()) {
            report.columns = found.to_vec();
        } else if report.columns.is_empty() {
            report.columns = labels;
        }
        for (s, out) in group.iter().zip(collectors) {
            if s.ameriflux.is_some() {
                report.ameriflux_status = report
                    .ameriflux_status
                    .max(Some(out.worst_format.unwrap_or(AmfLevel::Ok)));
                report.ameriflux_data_status = report
                    .ameriflux_data_status
                    .max(Some(out.worst_data.unwrap_or(AmfLevel::Ok)));
            }
            report.absorb(&s.name, out);
        }
    }
    Ok(report)
}

/// Reads the file once, feeding every checker; returns the number of records after the
/// first and the first record's labels.
fn read_pass(
    path: &Path,
    dialect: &super::spec::Dialect,
    checkers: &mut [Box<dyn Checker + '_>],
    outs: &mut [Collector],
) -> std::io::Result<(u64, Vec<String>)> {
    let mut table = open_table(path, dialect)?;
    let offset_base = if table.bom { 3 } else { 0 };
    let mut record = ByteRecord::new();
    let mut rows = 0u64;
    let mut first = true;
    let mut labels = Vec::new();
    let mut next_line = 1u64;
    while let Some(line) = table.read(&mut record)? {
        let byte = record.position().map_or(0, |p| p.byte());
        // Lines the reader skipped are blank, unless comment lines may be among them.
        if line > next_line && !first && dialect.comment_byte().is_none() {
            for (c, o) in checkers.iter_mut().zip(outs.iter_mut()) {
                c.blank_lines(next_line, line - next_line, o);
            }
        }
        // Lines this record spans: a quoted field may hold newlines.
        next_line = line + 1 + newlines_in(&record);
        if let Err(e) = std::str::from_utf8(record.as_slice()) {
            if let Some(out) = outs.first_mut() {
                encoding_error(&record, e.valid_up_to(), offset_base + byte, line, out);
            }
        }
        if first {
            first = false;
            labels = record
                .iter()
                .map(|l| String::from_utf8_lossy(l).into_owned())
                .collect();
            for (c, o) in checkers.iter_mut().zip(outs.iter_mut()) {
                c.header(line, &record, o);
            }
        } else {
            rows += 1;
            for (c, o) in checkers.iter_mut().zip(outs.iter_mut()) {
                c.row(line, &record, o);
            }
        }
    }
    for (c, o) in checkers.iter_mut().zip(outs.iter_mut()) {
        c.finish(o);
    }
    Ok((rows, labels))
}

/// A CSV reader over a file as `dialect` reads it, with a leading UTF-8 byte-order mark
/// stripped (DECISIONS.md 7), that tells each record's physical line: the csv crate's own
/// line count skips some empty lines, so line ends are counted as the reader takes bytes.
pub struct TableReader {
    reader: csv::Reader<CountLines<Input>>,
    /// Offsets of `\n` bytes read ahead but not yet before a record.
    ends: Rc<RefCell<VecDeque<u64>>>,
    newlines_before: u64,
    /// Whether the file started with a byte-order mark.
    pub bom: bool,
}

type Input = std::io::Chain<std::io::Cursor<Vec<u8>>, BufReader<std::fs::File>>;

/// Passes bytes through, noting where each `\n` is.
struct CountLines<R> {
    inner: R,
    offset: u64,
    ends: Rc<RefCell<VecDeque<u64>>>,
}

impl<R: Read> Read for CountLines<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut ends = self.ends.borrow_mut();
        ends.extend(memchr::memchr_iter(b'\n', &buf[..n]).map(|i| self.offset + i as u64));
        self.offset += n as u64;
        Ok(n)
    }
}

impl TableReader {
    /// Reads the next record; returns the physical line it starts on (1-based), or
    /// `None` at the end of the file.
    pub fn read(&mut self, record: &mut ByteRecord) -> std::io::Result<Option<u64>> {
        if !self.reader.read_byte_record(record).map_err(csv_io)? {
            return Ok(None);
        }
        // The reader stops just past the record's first terminator byte (or at the end).
        let terminator = self.reader.position().byte().saturating_sub(1);
        let mut ends = self.ends.borrow_mut();
        while ends.front().is_some_and(|e| *e < terminator) {
            ends.pop_front();
            self.newlines_before += 1;
        }
        // A quoted field may hold newlines: the record starts that many lines earlier.
        let inside = newlines_in(record);
        Ok(Some(
            self.newlines_before + 1 - inside.min(self.newlines_before),
        ))
    }
}

/// Newlines inside a record's quoted fields (the lines it spans beyond its first).
fn newlines_in(record: &ByteRecord) -> u64 {
    memchr::memchr_iter(b'\n', record.as_slice()).count() as u64
}

pub fn open_table(path: &Path, dialect: &super::spec::Dialect) -> std::io::Result<TableReader> {
    let mut file = BufReader::with_capacity(1 << 16, std::fs::File::open(path)?);
    let mut head = [0u8; 3];
    let mut got = 0;
    while got < 3 {
        match file.read(&mut head[got..])? {
            0 => break,
            n => got += n,
        }
    }
    let bom = got == 3 && head == BOM;
    let prefix = if bom {
        Vec::new()
    } else {
        head[..got].to_vec()
    };
    let ends = Rc::new(RefCell::new(VecDeque::new()));
    let input = CountLines {
        inner: std::io::Cursor::new(prefix).chain(file),
        offset: 0,
        ends: Rc::clone(&ends),
    };
    let reader = ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(dialect.delimiter_byte())
        .quoting(dialect.quote_byte().is_some())
        .quote(dialect.quote_byte().unwrap_or(b'"'))
        .double_quote(dialect.double_quote)
        .escape(dialect.escape_byte())
        .comment(dialect.comment_byte())
        .buffer_capacity(1 << 16)
        .from_reader(input);
    Ok(TableReader {
        reader,
        ends,
        newlines_before: 0,
        bom,
    })
}

pub fn csv_io(e: csv::Error) -> std::io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => e,
        other => std::io::Error::other(format!("{other:?}")),
    }
}

/// Reports the first invalid byte of a record, with its offset in the file (exact for
/// unquoted fields: one delimiter per field boundary).
fn encoding_error(record: &ByteRecord, bad: usize, start: u64, line: u64, out: &mut Collector) {
    if !out.has_room("encoding-error") {
        out.count_suppressed("encoding-error", Severity::Error);
        return;
    }
    let mut seen = 0usize;
    let mut column = 0usize;
    let mut within = bad;
    for (i, field) in record.iter().enumerate() {
        if bad < seen + field.len() {
            column = i;
            within = bad - seen;
            break;
        }
        seen += field.len();
    }
    let field = record.get(column).unwrap_or_default();
    let offset = start + (bad + column) as u64;
    out.push(
        Issue::new(
            "encoding-error",
            Severity::Error,
            format!(
                "not UTF-8: byte 0x{:02X} at offset {offset}; save the file as UTF-8",
                field.get(within).copied().unwrap_or(0)
            ),
        )
        .row(line)
        .value(field),
    );
}
