//! Parsing the `postgresql://user:password@host:port/db` connection URL.
//!
//! The URL comes from an environment variable and holds a secret, so no
//! error here quotes it, and [`ConnectParams`]'s `Debug` hides the password.

use runtime_plugin_sdk::error::{Error, Result};
use std::fmt;

/// Where and as whom to connect.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectParams {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Option<String>,
    pub database: String,
    pub application_name: String,
}

impl fmt::Debug for ConnectParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectParams")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("database", &self.database)
            .finish()
    }
}

impl ConnectParams {
    /// `host:port`, as the network grant names it.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// Parses the URL held in the environment variable `var` (named only for
    /// messages). Errors describe what is wrong without quoting the URL.
    pub fn parse(url: &str, var: &str) -> Result<Self> {
        let bad =
            |what: &str| Error::invalid_options(format!("the URL in environment variable {var} {what}"));
        let rest = url
            .strip_prefix("postgresql://")
            .or_else(|| url.strip_prefix("postgres://"))
            .ok_or_else(|| bad("must start with postgresql://"))?;
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        let (authority, path) = match rest.split_once('/') {
            Some((a, p)) => (a, p),
            None => (rest, ""),
        };
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (user, password) = match userinfo {
            Some(u) => match u.split_once(':') {
                Some((user, pw)) => (decode(user).ok_or_else(|| bad("has a malformed user name"))?, Some(pw)),
                None => (decode(u).ok_or_else(|| bad("has a malformed user name"))?, None),
            },
            None => (String::new(), None),
        };
        let password = match password {
            Some(p) => Some(decode(p).ok_or_else(|| bad("has a malformed password (percent-encoding)"))?),
            None => None,
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(|| bad("has an unterminated [IPv6] host"))?;
            (h.to_string(), after.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (decode(h).ok_or_else(|| bad("has a malformed host"))?, Some(p)),
                None => (decode(hostport).ok_or_else(|| bad("has a malformed host"))?, None),
            }
        };
        if host.is_empty() {
            return Err(bad("has no host"));
        }
        let port = match port {
            Some(p) => p.parse::<u16>().map_err(|_| bad("has an invalid port"))?,
            None => 5432,
        };
        if user.is_empty() {
            return Err(bad("has no user name"));
        }
        let database = match decode(path).ok_or_else(|| bad("has a malformed database name"))? {
            d if d.is_empty() => user.clone(),
            d => d,
        };
        let mut application_name = "runtime-sql".to_string();
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "sslmode" => match value {
                    "disable" | "allow" | "prefer" => {}
                    _ => {
                        return Err(Error::unsupported(format!(
                            "the URL in environment variable {var} asks for TLS (sslmode={value}); \
                             this reader speaks plain TCP only"
                        )));
                    }
                },
                "application_name" => {
                    application_name = decode(value).ok_or_else(|| bad("has a malformed application_name"))?
                }
                "connect_timeout" => {}
                // The name is not quoted: with an unescaped `?` in the
                // password, it would be part of the password.
                _ => {
                    return Err(bad(
                        "has an unsupported query parameter (accepted: sslmode, application_name, connect_timeout)",
                    ));
                }
            }
        }
        Ok(ConnectParams { host, port, user, password, database, application_name })
    }
}

/// Percent-decoding; `None` on malformed escapes or non-UTF-8 results.
fn decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_full_url() {
        let p =
            ConnectParams::parse("postgresql://al%40ice:p%3Ass@127.0.0.1:6543/shop?sslmode=disable", "PG")
                .unwrap();
        assert_eq!(p.host, "127.0.0.1");
        assert_eq!(p.port, 6543);
        assert_eq!(p.user, "al@ice");
        assert_eq!(p.password.as_deref(), Some("p:ss"));
        assert_eq!(p.database, "shop");
        assert_eq!(p.address(), "127.0.0.1:6543");
        let debug = format!("{p:?}");
        assert!(!debug.contains("p:ss") && debug.contains("<redacted>"), "{debug}");
    }

    #[test]
    fn defaults_and_ipv6() {
        let p = ConnectParams::parse("postgres://bob@[::1]", "PG").unwrap();
        assert_eq!((p.host.as_str(), p.port, p.database.as_str()), ("::1", 5432, "bob"));
        assert_eq!(p.address(), "[::1]:5432");
        assert_eq!(p.password, None);
    }

    #[test]
    fn errors_never_quote_the_url() {
        let secret = "hunter2";
        for url in [
            format!("mysql://u:{secret}@h/db"),
            format!("postgresql://u:{secret}@h:notaport/db"),
            format!("postgresql://u:{secret}@/db"),
            format!("postgresql://u:{secret}%zz@h/db"),
            format!("postgresql://u:{secret}@h/db?sslmode=require"),
            format!("postgresql://u:{secret}@h/db?{secret}=1"),
        ] {
            let e = ConnectParams::parse(&url, "PG_URL").unwrap_err();
            assert!(!e.message.contains(secret), "{}", e.message);
            assert!(e.message.contains("PG_URL"), "{}", e.message);
        }
    }
}
