//! A minimal PostgreSQL wire-protocol client over a blocking `TcpStream`.
//!
//! It speaks protocol 3.0 without TLS: startup, cleartext / MD5 /
//! SCRAM-SHA-256 authentication (message encoding and SCRAM from the sans-IO
//! `postgres-protocol` crate), simple queries with text results (for
//! planning), `Parse`+`Describe` (for the schema), and `COPY ... TO STDOUT`
//! streamed to a callback without buffering the result.
//!
//! Failures are classified for the host's retry logic: a lost connection, an
//! unexpected EOF and server shutdown codes (`57P01` and friends, class `08`)
//! are retryable I/O errors; SQL errors are not. No message contains the
//! password or the connection URL.

use super::url::ConnectParams;
use bytes::BytesMut;
use postgres_protocol::authentication::md5_hash;
use postgres_protocol::authentication::sasl::{ChannelBinding, SCRAM_SHA_256, ScramSha256};
use postgres_protocol::message::frontend;
use runtime_plugin_sdk::error::{Error, ErrorKind, Result};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::ops::Range;

/// One column of a statement's result, from `RowDescription`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDesc {
    pub name: String,
    pub type_oid: u32,
    pub typmod: i32,
}

/// An open, authenticated connection.
pub struct Connection {
    stream: TcpStream,
    address: String,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    out: BytesMut,
    /// Process id of the server backend (for `pg_terminate_backend` in tests).
    pub backend_pid: i32,
    broken: bool,
}

const READ_BUFFER: usize = 1 << 20;

impl Connection {
    /// Connects and authenticates.
    pub fn connect(params: &ConnectParams) -> Result<Self> {
        let address = params.address();
        let stream = TcpStream::connect((params.host.as_str(), params.port)).map_err(|e| {
            if e.kind() == std::io::ErrorKind::PermissionDenied {
                // The host's allow-list refused it: retrying cannot help.
                Error::invalid_options(format!(
                    "connecting to PostgreSQL at {address} was denied; grant it in pipeline.toml under \
                     [source.grants] network = [\"{address}\"]"
                ))
            } else {
                Error::io(format!("cannot connect to PostgreSQL at {address}: {e}")).retryable()
            }
        })?;
        let _ = stream.set_nodelay(true);
        let mut conn = Connection {
            stream,
            address,
            buf: vec![0; READ_BUFFER],
            start: 0,
            end: 0,
            out: BytesMut::with_capacity(4096),
            backend_pid: 0,
            broken: false,
        };
        conn.startup(params)?;
        Ok(conn)
    }

    fn startup(&mut self, p: &ConnectParams) -> Result<()> {
        let params = [
            ("user", p.user.as_str()),
            ("database", p.database.as_str()),
            ("application_name", p.application_name.as_str()),
            ("client_encoding", "UTF8"),
            ("DateStyle", "ISO"),
            ("TimeZone", "UTC"),
            ("IntervalStyle", "iso_8601"),
            ("extra_float_digits", "3"),
        ];
        frontend::startup_message(params.iter().copied(), &mut self.out).map_err(encode_error)?;
        self.flush()?;
        let password = || {
            p.password.as_deref().ok_or_else(|| {
                Error::io("the server asks for a password and the connection URL has none".to_string())
            })
        };
        let mut scram: Option<ScramSha256> = None;
        loop {
            let (tag, range) = self.next_message()?;
            let body = self.buf[range.clone()].to_vec();
            match tag {
                b'R' => {
                    let kind = be_i32(&body, 0)?;
                    match kind {
                        0 => {}
                        3 => {
                            frontend::password_message(password()?.as_bytes(), &mut self.out)
                                .map_err(encode_error)?;
                            self.flush()?;
                        }
                        5 => {
                            let salt: [u8; 4] =
                                body.get(4..8).and_then(|s| s.try_into().ok()).ok_or_else(malformed)?;
                            let hash = md5_hash(p.user.as_bytes(), password()?.as_bytes(), salt);
                            frontend::password_message(hash.as_bytes(), &mut self.out)
                                .map_err(encode_error)?;
                            self.flush()?;
                        }
                        10 => {
                            let mechanisms = body[4..].split(|&b| b == 0).collect::<Vec<_>>();
                            if !mechanisms.contains(&SCRAM_SHA_256.as_bytes()) {
                                return Err(Error::unsupported(
                                    "the server offers no SASL mechanism this reader supports (SCRAM-SHA-256)",
                                ));
                            }
                            let s = ScramSha256::new(password()?.as_bytes(), ChannelBinding::unsupported());
                            frontend::sasl_initial_response(SCRAM_SHA_256, s.message(), &mut self.out)
                                .map_err(encode_error)?;
                            scram = Some(s);
                            self.flush()?;
                        }
                        11 => {
                            let s = scram.as_mut().ok_or_else(malformed)?;
                            s.update(&body[4..]).map_err(auth_error)?;
                            frontend::sasl_response(s.message(), &mut self.out).map_err(encode_error)?;
                            self.flush()?;
                        }
                        12 => {
                            let s = scram.as_mut().ok_or_else(malformed)?;
                            s.finish(&body[4..]).map_err(auth_error)?;
                        }
                        other => {
                            return Err(Error::unsupported(format!(
                                "the server asks for authentication method {other}, which this reader does not \
                                 support (use scram-sha-256, md5 or password)"
                            )));
                        }
                    }
                }
                b'K' => self.backend_pid = be_i32(&body, 0)?,
                b'S' | b'N' => {}
                b'Z' => return Ok(()),
                b'E' => return Err(self.server_error(range)),
                other => return Err(unexpected(other, "startup")),
            }
        }
    }

    /// Runs a query with the simple protocol and returns its rows as text.
    pub fn simple_query(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>> {
        frontend::query(sql, &mut self.out).map_err(encode_error)?;
        self.flush()?;
        let mut rows = Vec::new();
        let mut error = None;
        loop {
            let (tag, body) = self.next_message()?;
            match tag {
                b'D' => rows.push(parse_data_row(&self.buf[body])?),
                b'T' | b'C' | b'I' | b'N' | b'S' => {}
                b'E' => error = Some(self.server_error(body)),
                b'Z' => return error.map_or(Ok(rows), Err),
                other => return Err(unexpected(other, "a query")),
            }
        }
    }

    /// The result columns of a statement, without running it.
    pub fn describe(&mut self, sql: &str) -> Result<Vec<FieldDesc>> {
        frontend::parse("", sql, std::iter::empty(), &mut self.out).map_err(encode_error)?;
        frontend::describe(b'S', "", &mut self.out).map_err(encode_error)?;
        frontend::sync(&mut self.out);
        self.flush()?;
        let mut fields = Vec::new();
        let mut error = None;
        loop {
            let (tag, body) = self.next_message()?;
            match tag {
                b'T' => fields = parse_row_description(&self.buf[body])?,
                b'1' | b't' | b'n' | b'N' | b'S' => {}
                b'E' => error = Some(self.server_error(body)),
                b'Z' => return error.map_or(Ok(fields), Err),
                other => return Err(unexpected(other, "describe")),
            }
        }
    }

    /// Runs `COPY ... TO STDOUT` and hands each `CopyData` payload to
    /// `on_data` as it arrives. If `on_data` fails, the connection is left
    /// mid-stream and marked broken; drop it.
    pub fn copy_out(&mut self, sql: &str, on_data: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<()> {
        frontend::query(sql, &mut self.out).map_err(encode_error)?;
        self.flush()?;
        let mut error = None;
        loop {
            let (tag, body) = self.next_message()?;
            match tag {
                b'd' => {
                    if let Err(e) = on_data(&self.buf[body]) {
                        self.broken = true;
                        return Err(e);
                    }
                }
                b'H' | b'c' | b'C' | b'N' | b'S' => {}
                b'E' => error = Some(self.server_error(body)),
                b'Z' => return error.map_or(Ok(()), Err),
                other => return Err(unexpected(other, "COPY")),
            }
        }
    }

    /// Whether the connection can run another statement.
    pub fn is_usable(&self) -> bool {
        !self.broken
    }

    fn flush(&mut self) -> Result<()> {
        let result = self.stream.write_all(&self.out).and_then(|()| self.stream.flush());
        self.out.clear();
        result.map_err(|e| self.lost(e))
    }

    /// The next backend message: its tag and the range of its body in
    /// `self.buf` (valid until the next call).
    fn next_message(&mut self) -> Result<(u8, Range<usize>)> {
        self.ensure(5)?;
        let tag = self.buf[self.start];
        let len = i32::from_be_bytes(self.buf[self.start + 1..self.start + 5].try_into().unwrap());
        if len < 4 {
            self.broken = true;
            return Err(
                Error::io(format!("malformed message from the server at {}", self.address)).retryable()
            );
        }
        let total = 1 + len as usize;
        self.ensure(total)?;
        let body = self.start + 5..self.start + total;
        self.start += total;
        Ok((tag, body))
    }

    /// Makes at least `n` unread bytes available in `buf[start..end]`.
    fn ensure(&mut self, n: usize) -> Result<()> {
        while self.end - self.start < n {
            if self.start + n > self.buf.len() {
                // Move the unread tail to the front; grow for big messages.
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
                if n > self.buf.len() {
                    self.buf.resize(n.next_power_of_two(), 0);
                }
            }
            let read = self.stream.read(&mut self.buf[self.end..]);
            match read {
                Ok(0) => {
                    self.broken = true;
                    return Err(Error::io(format!(
                        "the PostgreSQL server at {} closed the connection unexpectedly",
                        self.address
                    ))
                    .retryable());
                }
                Ok(k) => self.end += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.lost(e)),
            }
        }
        Ok(())
    }

    fn lost(&mut self, e: std::io::Error) -> Error {
        self.broken = true;
        Error::io(format!("connection to PostgreSQL at {} lost: {e}", self.address)).retryable()
    }

    /// The error of the `ErrorResponse` whose body is `buf[body]`.
    fn server_error(&mut self, body: Range<usize>) -> Error {
        let e = ServerError::parse(&self.buf[body]);
        if e.severity == "FATAL" || e.severity == "PANIC" {
            self.broken = true;
        }
        e.into_error()
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if !self.broken {
            frontend::terminate(&mut self.out);
            let _ = self.stream.write_all(&self.out);
        }
    }
}

/// The fields of an `ErrorResponse` this client reports.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ServerError {
    pub severity: String,
    pub code: String,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

impl ServerError {
    pub fn parse(body: &[u8]) -> Self {
        let mut e = ServerError::default();
        let mut rest = body;
        while let Some((&field, tail)) = rest.split_first() {
            if field == 0 {
                break;
            }
            let end = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
            let value = String::from_utf8_lossy(&tail[..end]).into_owned();
            rest = tail.get(end + 1..).unwrap_or(&[]);
            match field {
                b'V' => e.severity = value,
                b'S' if e.severity.is_empty() => e.severity = value,
                b'C' => e.code = value,
                b'M' => e.message = value,
                b'D' => e.detail = Some(value),
                b'H' => e.hint = Some(value),
                _ => {}
            }
        }
        e
    }

    /// Whether retrying the same work on a new connection may succeed.
    pub fn is_retryable(&self) -> bool {
        self.code.starts_with("08")
            || matches!(
                self.code.as_str(),
                "57P01" | "57P02" | "57P03" | "40001" | "40P01" | "53300" | "53200"
            )
    }

    pub fn into_error(self) -> Error {
        let kind = match &self.code[..self.code.len().min(2)] {
            "42" => ErrorKind::InvalidOptions,
            "22" => ErrorKind::InvalidInput,
            "0A" => ErrorKind::Unsupported,
            _ => ErrorKind::Io,
        };
        let mut message = format!("PostgreSQL error {}: {}", self.code, self.message);
        if let Some(d) = &self.detail {
            message.push_str(&format!(" ({d})"));
        }
        if let Some(h) = &self.hint {
            message.push_str(&format!("; hint: {h}"));
        }
        let retryable = self.is_retryable();
        let e = Error::new(if retryable { ErrorKind::Io } else { kind }, message);
        if retryable { e.retryable() } else { e }
    }
}

fn parse_data_row(body: &[u8]) -> Result<Vec<Option<String>>> {
    let n = be_i16(body, 0)? as usize;
    let mut at = 2;
    let mut row = Vec::with_capacity(n);
    for _ in 0..n {
        let len = be_i32(body, at)?;
        at += 4;
        if len < 0 {
            row.push(None);
        } else {
            let bytes = body.get(at..at + len as usize).ok_or_else(malformed)?;
            row.push(Some(String::from_utf8_lossy(bytes).into_owned()));
            at += len as usize;
        }
    }
    Ok(row)
}

fn parse_row_description(body: &[u8]) -> Result<Vec<FieldDesc>> {
    let n = be_i16(body, 0)? as usize;
    let mut at = 2;
    let mut fields = Vec::with_capacity(n);
    for _ in 0..n {
        let end = body[at..].iter().position(|&b| b == 0).ok_or_else(malformed)? + at;
        let name = String::from_utf8_lossy(&body[at..end]).into_owned();
        at = end + 1;
        // table oid (4), column number (2), type oid (4), type size (2), type modifier (4), format (2)
        let type_oid = be_i32(body, at + 6)? as u32;
        let typmod = be_i32(body, at + 12)?;
        at += 18;
        fields.push(FieldDesc { name, type_oid, typmod });
    }
    Ok(fields)
}

fn be_i32(b: &[u8], at: usize) -> Result<i32> {
    b.get(at..at + 4).map(|s| i32::from_be_bytes(s.try_into().unwrap())).ok_or_else(malformed)
}

fn be_i16(b: &[u8], at: usize) -> Result<i16> {
    b.get(at..at + 2).map(|s| i16::from_be_bytes(s.try_into().unwrap())).ok_or_else(malformed)
}

fn malformed() -> Error {
    Error::io("malformed message from the PostgreSQL server").retryable()
}

fn unexpected(tag: u8, during: &str) -> Error {
    Error::internal(format!(
        "unexpected message `{}` from the PostgreSQL server during {during}",
        tag as char
    ))
}

fn encode_error(e: std::io::Error) -> Error {
    Error::invalid_options(format!("cannot encode a protocol message: {e}"))
}

fn auth_error(e: std::io::Error) -> Error {
    Error::io(format!("SCRAM authentication failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_server_errors() {
        let body = b"SFATAL\0VFATAL\0C57P01\0Mterminating connection due to administrator command\0\0";
        let e = ServerError::parse(body);
        assert_eq!(e.code, "57P01");
        assert_eq!(e.severity, "FATAL");
        let err = e.into_error();
        assert!(err.retryable);
        assert_eq!(err.kind, ErrorKind::Io);
        let err = ServerError::parse(b"SERROR\0C42P01\0Mrelation \"x\" does not exist\0\0").into_error();
        assert!(!err.retryable);
        assert_eq!(err.kind, ErrorKind::InvalidOptions);
        assert_eq!(err.message, "PostgreSQL error 42P01: relation \"x\" does not exist");
    }

    #[test]
    fn parses_rows_and_descriptions() {
        let mut row = vec![0, 2, 0, 0, 0, 2, b'4', b'2', 0xff, 0xff, 0xff, 0xff];
        assert_eq!(parse_data_row(&row).unwrap(), vec![Some("42".into()), None]);
        row.truncate(7);
        assert!(parse_data_row(&row).is_err());
        let mut desc = vec![0, 1];
        desc.extend_from_slice(b"id\0");
        desc.extend_from_slice(&[0, 0, 0, 0, 0, 1, 0, 0, 0, 20, 0, 8, 0xff, 0xff, 0xff, 0xff, 0, 0]);
        assert_eq!(
            parse_row_description(&desc).unwrap(),
            vec![FieldDesc { name: "id".into(), type_oid: 20, typmod: -1 }]
        );
    }
}
