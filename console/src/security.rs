//! The console's guard, in front of every route: the `Host` header must name the address the
//! console is bound to (so a DNS-rebinding page on another name is refused), a state-changing
//! request must come from the console's own origin with a JSON body (so no page on another site
//! can post to it, not even a plain form), and every response carries a Content-Security-Policy
//! that allows only the console's own scripts and styles.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// The Content-Security-Policy of every response: nothing but the console's own files, no
/// inline script or style, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// What requests the console accepts, from the address it is bound to.
#[derive(Debug, Clone)]
pub struct Guard {
    ip: IpAddr,
    port: u16,
}

impl Guard {
    /// The guard of a console bound to `addr`.
    pub fn new(addr: SocketAddr) -> Self {
        Guard {
            ip: addr.ip(),
            port: addr.port(),
        }
    }

    /// True when `host` (a `Host` header value) names this console: `localhost` or an IP
    /// address it listens on, with its port. Any other name is refused, so a page on a name
    /// that an attacker's DNS points at 127.0.0.1 cannot read or drive the console.
    pub fn host_allowed(&self, host: &str) -> bool {
        let Some((name, port)) = split_host(host) else {
            return false;
        };
        if port != self.port {
            return false;
        }
        if name.eq_ignore_ascii_case("localhost") {
            return self.ip.is_loopback() || self.ip.is_unspecified();
        }
        match name.parse::<IpAddr>() {
            Ok(ip) if self.ip.is_unspecified() => !ip.is_unspecified(),
            Ok(ip) => ip == self.ip || (ip.is_loopback() && self.ip.is_loopback()),
            Err(_) => false,
        }
    }

    /// True when a state-changing request with these headers comes from the console's own
    /// page: its `Origin` is `http://` + its (allowed) `Host`. Without `Origin`, a browser's
    /// `Sec-Fetch-Site` must say same-origin; a request with neither is no browser's (curl).
    pub fn same_origin(&self, headers: &HeaderMap) -> bool {
        let host = text(headers, header::HOST);
        let Some(host) = host.filter(|h| self.host_allowed(h)) else {
            return false;
        };
        match text(headers, header::ORIGIN) {
            Some(origin) => origin == format!("http://{host}"),
            None => match text(headers, "sec-fetch-site") {
                Some(site) => site == "same-origin" || site == "none",
                None => true,
            },
        }
    }
}

/// `name` and port of a `Host` value (`127.0.0.1:8080`, `[::1]:8080`, `localhost`); port 80
/// when none is given.
fn split_host(host: &str) -> Option<(&str, u16)> {
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        let (ip, after) = rest.split_once(']')?;
        (ip, after.strip_prefix(':'))
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (host, None),
        }
    };
    let port = match port {
        Some(p) => p.parse().ok()?,
        None => 80,
    };
    (!name.is_empty()).then_some((name, port))
}

fn text(headers: &HeaderMap, name: impl header::AsHeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn is_json(headers: &HeaderMap) -> bool {
    text(headers, header::CONTENT_TYPE).is_some_and(|ct| {
        ct.split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
    })
}

/// The middleware: refuses a foreign `Host` (403), a state-changing request from another
/// origin or without a JSON body (403), and adds the security headers to every response.
pub async fn guard(State(guard): State<Arc<Guard>>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    let host_ok = text(headers, header::HOST).is_some_and(|h| guard.host_allowed(h));
    let safe = matches!(*req.method(), Method::GET | Method::HEAD);
    let mut response = if !host_ok {
        ApiError::forbidden(
            "refused: the Host header does not name this console's address (use the address it printed)",
        )
        .into_response()
    } else if !safe && !guard.same_origin(headers) {
        ApiError::forbidden("refused: a state-changing request must come from the console's own page (cross-origin request)").into_response()
    } else if !safe && !is_json(headers) {
        ApiError::forbidden(
            "refused: a state-changing request must send a JSON body (Content-Type: application/json)",
        )
        .into_response()
    } else {
        next.run(req).await
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loopback() -> Guard {
        Guard::new("127.0.0.1:8080".parse().unwrap())
    }

    #[test]
    fn only_the_bound_address_and_localhost_are_hosts_of_a_loopback_console() {
        let g = loopback();
        for ok in [
            "127.0.0.1:8080",
            "localhost:8080",
            "LOCALHOST:8080",
            "[::1]:8080",
        ] {
            assert!(g.host_allowed(ok), "{ok}");
        }
        for refused in [
            "evil.example:8080",
            "127.0.0.1:8081",
            "127.0.0.1",
            "10.0.0.1:8080",
            "",
            ":8080",
            "[::1",
            "127.0.0.1.nip.io:8080",
        ] {
            assert!(!g.host_allowed(refused), "{refused}");
        }
    }

    #[test]
    fn a_console_bound_to_all_addresses_takes_ip_literals_but_no_other_name() {
        let g = Guard::new("0.0.0.0:9000".parse().unwrap());
        assert!(g.host_allowed("192.168.1.20:9000"));
        assert!(g.host_allowed("localhost:9000"));
        assert!(!g.host_allowed("rebind.attacker.example:9000"));
        assert!(!g.host_allowed("0.0.0.0:9000"));
    }

    #[test]
    fn a_state_change_needs_the_consoles_own_origin() {
        let g = loopback();
        let headers = |pairs: &[(&'static str, &str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.insert(*k, HeaderValue::from_str(v).unwrap());
            }
            h
        };
        assert!(g.same_origin(&headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080")
        ])));
        assert!(!g.same_origin(&headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://evil.example")
        ])));
        assert!(!g.same_origin(&headers(&[("host", "127.0.0.1:8080"), ("origin", "null")])));
        assert!(!g.same_origin(&headers(&[
            ("host", "127.0.0.1:8080"),
            ("sec-fetch-site", "cross-site")
        ])));
        assert!(!g.same_origin(&headers(&[
            ("host", "evil.example:8080"),
            ("origin", "http://evil.example:8080")
        ])));
        assert!(g.same_origin(&headers(&[("host", "127.0.0.1:8080")])));
    }
}
