//! A minimal hand-written PostgreSQL frontend, for sending what well-behaved drivers never send:
//! wrong parameter counts, undecodable parameters, oversized and malformed messages.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// One backend message: its type byte and payload.
#[derive(Debug)]
pub struct BackendMessage {
    /// Message type ('E' error, 'Z' ready for query, …).
    pub kind: u8,
    /// Payload after the length word.
    pub body: Vec<u8>,
}

impl BackendMessage {
    /// The SQLSTATE of an ErrorResponse.
    pub fn sqlstate(&self) -> Option<String> {
        self.field(b'C')
    }

    /// A field of an ErrorResponse ('C' code, 'M' message, 'S' severity).
    pub fn field(&self, code: u8) -> Option<String> {
        if self.kind != b'E' {
            return None;
        }
        let mut rest = &self.body[..];
        while let Some((&field, tail)) = rest.split_first() {
            if field == 0 {
                break;
            }
            let end = tail.iter().position(|b| *b == 0)?;
            if field == code {
                return Some(String::from_utf8_lossy(&tail[..end]).into_owned());
            }
            rest = &tail[end + 1..];
        }
        None
    }
}

/// A raw protocol connection.
pub struct RawConnection {
    stream: TcpStream,
}

impl RawConnection {
    /// Connects and completes start-up (SCRAM-SHA-256) as the demo user on database `spirit`.
    pub fn connect(port: u16) -> Self {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .expect("timeout");
        let mut conn = Self { stream };
        let mut body = 196_608_i32.to_be_bytes().to_vec();
        for part in ["user", crate::DEMO_USER, "database", "spirit", ""] {
            body.extend_from_slice(part.as_bytes());
            body.push(0);
        }
        let mut msg = ((body.len() + 4) as i32).to_be_bytes().to_vec();
        msg.extend(body);
        conn.write_raw(&msg);
        conn.authenticate(crate::DEMO_PASSWORD);
        let messages = conn.read_until_ready();
        assert!(
            messages
                .iter()
                .any(|m| m.kind == b'R' && m.body.starts_with(&[0, 0, 0, 0])),
            "no AuthenticationOk: {messages:?}"
        );
        conn
    }

    /// Answers the server's SCRAM-SHA-256 request with postgres-protocol's client.
    fn authenticate(&mut self, password: &str) {
        use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256};
        let request = self.read().expect("authentication request");
        assert_eq!(
            (request.kind, &request.body[..4]),
            (b'R', &10_i32.to_be_bytes()[..]),
            "expected AuthenticationSASL: {request:?}"
        );
        let mut scram = ScramSha256::new(password.as_bytes(), ChannelBinding::unsupported());
        let mut initial = cstr("SCRAM-SHA-256");
        initial.extend((scram.message().len() as i32).to_be_bytes());
        initial.extend_from_slice(scram.message());
        self.send(b'p', &initial);
        let server_first = self.read().expect("SASLContinue");
        assert_eq!(server_first.kind, b'R', "{server_first:?}");
        scram.update(&server_first.body[4..]).expect("server-first");
        let client_final = scram.message().to_vec();
        self.send(b'p', &client_final);
        let server_final = self.read().expect("SASLFinal");
        assert_eq!(server_final.kind, b'R', "{server_final:?}");
        scram
            .finish(&server_final.body[4..])
            .expect("server signature");
    }

    /// Writes bytes as they are.
    pub fn write_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// Sends a frontend message of type `kind` with `body`.
    pub fn send(&mut self, kind: u8, body: &[u8]) {
        let mut msg = vec![kind];
        msg.extend(((body.len() + 4) as i32).to_be_bytes());
        msg.extend_from_slice(body);
        self.write_raw(&msg);
    }

    /// Reads one backend message, or `None` when the server closed the connection.
    pub fn read(&mut self) -> Option<BackendMessage> {
        let mut header = [0u8; 5];
        self.stream.read_exact(&mut header).ok()?;
        let len = i32::from_be_bytes(header[1..5].try_into().expect("4 bytes")) as usize;
        let mut body = vec![0u8; len.saturating_sub(4)];
        self.stream.read_exact(&mut body).ok()?;
        Some(BackendMessage {
            kind: header[0],
            body,
        })
    }

    /// Reads messages up to and including ReadyForQuery (or until the connection closes).
    pub fn read_until_ready(&mut self) -> Vec<BackendMessage> {
        let mut messages = Vec::new();
        while let Some(message) = self.read() {
            let ready = message.kind == b'Z';
            messages.push(message);
            if ready {
                break;
            }
        }
        messages
    }

    /// Runs `sql` with the simple query protocol.
    pub fn simple_query(&mut self, sql: &str) -> Vec<BackendMessage> {
        self.send(b'Q', &cstr(sql));
        self.read_until_ready()
    }

    /// Parse, Bind (text-format `params`), Execute and Sync for `sql` declared with `param_oids`.
    pub fn extended_query(
        &mut self,
        sql: &str,
        param_oids: &[i32],
        params: &[Option<&str>],
    ) -> Vec<BackendMessage> {
        let mut parse = cstr("");
        parse.extend(cstr(sql));
        parse.extend((param_oids.len() as i16).to_be_bytes());
        for oid in param_oids {
            parse.extend(oid.to_be_bytes());
        }
        self.send(b'P', &parse);
        let mut bind = cstr("");
        bind.extend(cstr(""));
        bind.extend(0_i16.to_be_bytes());
        bind.extend((params.len() as i16).to_be_bytes());
        for param in params {
            match param {
                Some(value) => {
                    bind.extend((value.len() as i32).to_be_bytes());
                    bind.extend(value.as_bytes());
                }
                None => bind.extend((-1_i32).to_be_bytes()),
            }
        }
        bind.extend(0_i16.to_be_bytes());
        self.send(b'B', &bind);
        let mut execute = cstr("");
        execute.extend(0_i32.to_be_bytes());
        self.send(b'E', &execute);
        self.send(b'S', &[]);
        self.read_until_ready()
    }
}

fn cstr(text: &str) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    bytes.push(0);
    bytes
}

/// The first error among `messages`, if any.
pub fn first_error(messages: &[BackendMessage]) -> Option<&BackendMessage> {
    messages.iter().find(|m| m.kind == b'E')
}
