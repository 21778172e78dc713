//! `pbx_cdr`: the calls of a 3CX PBX, read from the call-detail-record (CDR) files it writes to a
//! directory, as the table `cdr` (one row per call record; columns in [`cdr`]).
//!
//! ```sql
//! CREATE EXTERNAL TABLE calls_3cx STORED AS pbx_cdr LOCATION '/var/lib/3cx/cdr';
//! SELECT reason_terminated, count(*) FROM calls_3cx GROUP BY 1;
//! ```
//!
//! Every file in the directory (config `path`) ending in `.csv`, `.log` or `.txt` is read, in
//! name order, a page of up to [`PAGE_BYTES`] at a time; the cursor is the file and byte offset
//! where the next page starts, so a scan resumes where it stopped and files 3CX adds meanwhile
//! are picked up.
//!
//! Malformed rows (a wrong field count, a time or duration that does not parse) are skipped,
//! never guessed at. Each page reports how many it skipped in `skipped-rows`, which the engine
//! totals in `spirit.sources`, and logs one warn line naming the file, the byte range and the
//! first problem, which becomes the plugin's `last_error` in `spirit.plugins`.

mod cdr;

use spirit_plugin_sdk::prelude::*;

/// Bytes of a file read per page: about 16,000 calls at 3CX's ~250 bytes a row.
const PAGE_BYTES: u64 = 4 << 20;

/// File names read from the directory; 3CX's single-file output is `cdr.log`.
const EXTENSIONS: [&str; 3] = [".csv", ".log", ".txt"];

#[derive(Default)]
struct PbxCdr;

impl Connector for PbxCdr {
    fn tables(&self) -> Result<Vec<Table>> {
        let description = "Calls of the 3CX PBX, one row per call-detail record";
        Ok(vec![Table::new("cdr", description, cdr::schema())])
    }

    fn scan(&self, request: &ScanRequest) -> Result<ScanPage> {
        let path = host::required_config("path")?;
        let dir = path.trim_end_matches('/');
        let utc_offset = host::config("utc_offset");
        let utc_offset = cdr::parse_utc_offset(utc_offset.as_deref().unwrap_or("Z"))?;
        let files: Vec<String> = host::list_dir(dir)?
            .into_iter()
            .filter(|name| {
                EXTENSIONS
                    .iter()
                    .any(|ext| name.to_ascii_lowercase().ends_with(ext))
            })
            .collect();

        let position = request.cursor.as_deref().map(Position::parse).transpose()?;
        // The cursor's file, or the first one after it if that file has gone.
        let Some(index) = files.iter().position(|file| {
            position
                .as_ref()
                .is_none_or(|at| file.as_str() >= at.file.as_str())
        }) else {
            return Ok(ScanPage::last(Vec::new()));
        };
        let file = &files[index];
        let start = match &position {
            Some(at) if &at.file == file => at.offset,
            _ => 0,
        };

        let bytes = host::read_file_range(&format!("{dir}/{file}"), start, PAGE_BYTES)?;
        let at_end = (bytes.len() as u64) < PAGE_BYTES;
        // Only whole lines; the rest of the last one starts the next page.
        let used = if at_end {
            bytes.len()
        } else {
            bytes
                .iter()
                .rposition(|&byte| byte == b'\n')
                .map(|newline| newline + 1)
                .ok_or_else(|| {
                    Error::invalid_data(format!(
                        "{file}: the line at byte {start} is longer than {PAGE_BYTES} bytes"
                    ))
                })?
        };
        let end = start + used as u64;

        let chunk = cdr::parse(&bytes[..used], file, start, utc_offset)?;
        if let Some(problem) = &chunk.first_problem {
            host::log(
                Level::Warn,
                &format!(
                    "skipped {} malformed rows of {file} (bytes {start}..{end}); first: {problem}",
                    chunk.skipped
                ),
            );
        }

        let next = if at_end {
            files.get(index + 1).map(|next| Position {
                file: next.clone(),
                offset: 0,
            })
        } else {
            Some(Position {
                file: file.clone(),
                offset: end,
            })
        };
        let batches = vec![chunk.batch];
        let page = match next {
            Some(next) => ScanPage::more(batches, next.to_cursor()),
            None => ScanPage::last(batches),
        };
        Ok(page.with_skipped_rows(chunk.skipped))
    }
}

/// Where a page starts: a byte offset in a file. As a cursor, `<offset>:<file name>`.
struct Position {
    file: String,
    offset: u64,
}

impl Position {
    fn parse(cursor: &str) -> Result<Self> {
        cursor
            .split_once(':')
            .and_then(|(offset, file)| {
                Some(Self {
                    file: file.to_owned(),
                    offset: offset.parse().ok()?,
                })
            })
            .ok_or_else(|| Error::internal(format!("cursor '{cursor}' is not <offset>:<file>")))
    }

    fn to_cursor(&self) -> String {
        format!("{}:{}", self.offset, self.file)
    }
}

export_connector!(PbxCdr);
