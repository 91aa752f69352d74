//! An intercepted CONNECT: TLS terminated with a leaf from the per-run CA, then each HTTP/1.1
//! request checked, substituted, forwarded upstream over verified TLS, and its response
//! streamed back scrubbed. One upstream connection per client connection, kept alive.

use std::sync::Arc;

use bytes::Bytes;
use http::{
    HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode, Version, header,
};
use http_body_util::{BodyExt as _, Empty, Full};
use hyper::body::{Body as _, Incoming};
use hyper::client::conn::http1::SendRequest;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Mutex;
use tokio_rustls::LazyConfigAcceptor;
use zeroize::{Zeroize as _, Zeroizing};

use super::audit::Record;
use super::front::{strip_hop_by_hop, text};
use super::pump::{self, Direction, pump};
use super::target::Target;
use super::{BoxError, ProxyBody, Shared, upstream};

/// One intercepted client connection.
struct Conn {
    shared: Arc<Shared>,
    target: Target,
    /// Did the client's SNI (if it sent one) name the CONNECT target?
    sni_ok: bool,
    upstream: Mutex<Option<SendRequest<ProxyBody>>>,
}

/// Terminates TLS on `io` (the upgraded CONNECT stream) and serves HTTP/1.1 on it.
pub async fn serve<IO>(shared: Arc<Shared>, target: Target, io: IO)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Ok(start) = LazyConfigAcceptor::new(rustls::server::Acceptor::default(), io).await else {
        return;
    };
    let sni_ok = start
        .client_hello()
        .server_name()
        .is_none_or(|name| target.same_host(name));
    // The leaf always names the CONNECT target; a client that asked for another name is
    // answered 421 below, and its own verification fails anyway.
    let Ok(config) = shared.ca.server_config(&target.host) else {
        return;
    };
    let Ok(tls) = start.into_stream(config).await else {
        return;
    };
    let conn = Arc::new(Conn {
        shared,
        target,
        sni_ok,
        upstream: Mutex::new(None),
    });
    let service = service_fn(move |req| {
        let conn = conn.clone();
        async move { Ok::<_, std::convert::Infallible>(handle(&conn, req).await) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(tls), service)
        .await;
}

/// A status and a short text for the client.
type Refusal = (StatusCode, String);

fn refuse(status: StatusCode, why: &str) -> Refusal {
    (status, why.to_owned())
}

/// Does the request name the CONNECT target (its `Host`, and its authority if absolute-form)?
fn names_target(target: &Target, req: &Request<Incoming>) -> Result<(), Refusal> {
    let host = req.headers().get(header::HOST).map(|v| v.to_str());
    let named: Vec<&str> = match (host, req.uri().authority()) {
        (Some(Err(_)), _) | (None, None) => {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                "envx proxy: no valid Host header\n",
            ));
        }
        (Some(Ok(h)), Some(a)) => vec![h, a.as_str()],
        (Some(Ok(h)), None) => vec![h],
        (None, Some(a)) => vec![a.as_str()],
    };
    for name in named {
        match Target::parse(name, Some(443)) {
            Some(t) if t == *target => {}
            Some(_) => {
                return Err((
                    StatusCode::MISDIRECTED_REQUEST,
                    format!(
                        "envx proxy: Host differs from the CONNECT target {}\n",
                        target.authority()
                    ),
                ));
            }
            None => {
                return Err(refuse(
                    StatusCode::BAD_REQUEST,
                    "envx proxy: bad Host header\n",
                ));
            }
        }
    }
    Ok(())
}

async fn handle(conn: &Conn, req: Request<Incoming>) -> Response<ProxyBody> {
    let shared = &conn.shared;
    let target = &conn.target;
    let misdirected = if conn.sni_ok {
        names_target(target, &req).err()
    } else {
        Some(refuse(
            StatusCode::MISDIRECTED_REQUEST,
            &format!(
                "envx proxy: TLS server name differs from the CONNECT target {}\n",
                target.authority()
            ),
        ))
    };
    let (mut parts, body) = req.into_parts();
    let method = parts.method.clone();
    let original = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let path = original
        .split_once('?')
        .map_or(original.as_str(), |(p, _)| p)
        .to_owned();
    strip_hop_by_hop(&mut parts.headers);

    // The head: placeholders replaced where the rule allows. These copies hold real values;
    // they are wiped once the upstream request is built.
    let mut request_target = Zeroizing::new(original);
    let mut headers: Vec<(String, Vec<u8>)> = parts
        .headers
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
        .collect();
    let head =
        shared
            .vault
            .request_head(&target.host, target.port, &mut request_target, &mut headers);
    let record = |substituted: &[String], refused: &[String], status: u16| {
        shared.audit.record(&Record {
            target,
            method: method.as_str(),
            path: &path,
            substituted,
            refused,
            status,
        });
    };
    if let Some((status, why)) = misdirected {
        // Nothing is forwarded; the log still says which placeholders were sent here.
        wipe(&mut headers);
        let mut seen = head.substituted;
        seen.extend(head.refused);
        record(&[], &seen, status.as_u16());
        return text(status, &why);
    }
    if shared.strict && !head.refused.is_empty() {
        wipe(&mut headers);
        record(&[], &head.refused, 403);
        return text(
            StatusCode::FORBIDDEN,
            &format!(
                "envx proxy: the placeholder of {} is not allowed for {} (--proxy-strict)\n",
                head.refused.join(", "),
                target.authority()
            ),
        );
    }
    let built = build_head(&request_target, &mut headers);
    wipe(&mut headers);
    let (uri, mut map) = match built {
        Ok(h) => h,
        Err((status, why)) => {
            record(&head.substituted, &head.refused, status.as_u16());
            return text(status, &why);
        }
    };
    // Plain bytes back, so that the scrubber can see every value.
    map.insert(
        header::ACCEPT_ENCODING,
        HeaderValue::from_static("identity"),
    );

    let (body, seen) = match request_body(shared, target, &mut map, body).await {
        Ok(b) => b,
        Err(resp) => {
            record(&head.substituted, &head.refused, 400);
            return resp;
        }
    };
    let mut upstream_req = Request::new(body);
    *upstream_req.method_mut() = method.clone();
    *upstream_req.uri_mut() = uri;
    *upstream_req.version_mut() = Version::HTTP_11;
    *upstream_req.headers_mut() = map;

    let response = match forward(conn, upstream_req).await {
        Ok(resp) => scrub_response(shared, &method, resp),
        Err(e) => text(
            StatusCode::BAD_GATEWAY,
            &format!("envx proxy: upstream {}: {e}\n", target.authority()),
        ),
    };
    let status = response.status().as_u16();
    // The body's substitutions are known once it has been sent: log then, without holding up
    // the response.
    let head_outcome = (head.substituted, head.refused);
    let audit_shared = shared.clone();
    let audit_target = target.clone();
    let audit_method = method.clone();
    let audit_path = path.clone();
    let write = move |(mut substituted, mut refused): (Vec<String>, Vec<String>)| {
        substituted.extend(head_outcome.0);
        refused.extend(head_outcome.1);
        for list in [&mut substituted, &mut refused] {
            list.sort_unstable();
            list.dedup();
        }
        audit_shared.audit.record(&Record {
            target: &audit_target,
            method: audit_method.as_str(),
            path: &audit_path,
            substituted: &substituted,
            refused: &refused,
            status,
        });
    };
    match seen {
        Seen::Now(outcome) => write(outcome),
        Seen::Later(seen) => {
            tokio::spawn(async move { write(seen.await.unwrap_or_default()) });
        }
    }
    response
}

/// Request bodies up to this size with a `Content-Length` are read whole and substituted, so
/// that the upstream gets an exact `Content-Length` (some servers refuse chunked requests).
const BUFFER_LIMIT: u64 = 1 << 20;

/// What a body's substitution saw: known now, or once the body has been streamed.
enum Seen {
    Now((Vec<String>, Vec<String>)),
    Later(pump::Seen),
}

/// The upstream request's body, substituted as the rules allow for `target`.
async fn request_body(
    shared: &Arc<Shared>,
    target: &Target,
    headers: &mut HeaderMap,
    body: Incoming,
) -> Result<(ProxyBody, Seen), Response<ProxyBody>> {
    if body.is_end_stream() {
        let empty = Empty::new().map_err(|never| match never {}).boxed();
        return Ok((empty, Seen::Now(Default::default())));
    }
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if length.is_some_and(|l| l <= BUFFER_LIMIT) {
        let Ok(collected) = http_body_util::Limited::new(body, BUFFER_LIMIT as usize)
            .collect()
            .await
        else {
            return Err(text(
                StatusCode::BAD_REQUEST,
                "envx proxy: cannot read the request body\n",
            ));
        };
        let input = collected.to_bytes();
        let mut stream = shared.vault.body_substituter(&target.host, target.port);
        let mut out = Vec::with_capacity(input.len());
        stream.feed(&input, &mut out);
        stream.finish(&mut out);
        let outcome = stream.outcome();
        let seen = (outcome.substituted.clone(), outcome.refused.clone());
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(out.len()));
        let body = Full::new(Bytes::from(out))
            .map_err(|never| match never {})
            .boxed();
        return Ok((body, Seen::Now(seen)));
    }
    // Large or of unknown length: streamed, so its substituted length is not known in
    // advance and hyper sends it chunked.
    headers.remove(header::CONTENT_LENGTH);
    let (body, seen) = pump(shared.clone(), Direction::Request(target.clone()), body);
    Ok((body, Seen::Later(seen)))
}

/// The upstream request's URI and headers.
fn build_head(
    request_target: &str,
    headers: &mut [(String, Vec<u8>)],
) -> Result<(http::Uri, HeaderMap), Refusal> {
    // The error messages name no value: the target and headers may now hold real values.
    let uri = request_target.parse::<http::Uri>().map_err(|_| {
        refuse(
            StatusCode::BAD_REQUEST,
            "envx proxy: the substituted request target is not valid\n",
        )
    })?;
    let mut map = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers.iter() {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| refuse(StatusCode::BAD_REQUEST, "envx proxy: bad header name\n"))?;
        let value = HeaderValue::from_bytes(value).map_err(|_| {
            refuse(
                StatusCode::BAD_REQUEST,
                &format!("envx proxy: the substituted {name} header is not a valid header value\n"),
            )
        })?;
        map.append(name, value);
    }
    Ok((uri, map))
}

fn wipe(headers: &mut [(String, Vec<u8>)]) {
    for (_, value) in headers {
        value.zeroize();
    }
}

/// Sends on this client connection's upstream connection, opening it (again) if needed.
async fn forward(conn: &Conn, req: Request<ProxyBody>) -> Result<Response<Incoming>, String> {
    let sending = {
        let mut slot = conn.upstream.lock().await;
        let reusable = match slot.as_mut() {
            Some(sender) if !sender.is_closed() => sender.ready().await.is_ok(),
            _ => false,
        };
        let sender = match (reusable, slot.as_mut()) {
            (true, Some(sender)) => sender,
            _ => {
                let config = conn.shared.client_config(&conn.target)?;
                let sender =
                    upstream::connect(&conn.target, conn.shared.extra_upstream(), config).await?;
                slot.insert(sender)
            }
        };
        sender.send_request(req)
    };
    sending.await.map_err(|e| format!("HTTP: {e}"))
}

/// Response headers and body with every real value replaced by its placeholder.
fn scrub_response(
    shared: &Arc<Shared>,
    method: &Method,
    resp: Response<Incoming>,
) -> Response<ProxyBody> {
    let (mut parts, body) = resp.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    for value in parts.headers.values_mut() {
        let mut bytes = value.as_bytes().to_vec();
        shared.vault.scrub_header(&mut bytes);
        if bytes != value.as_bytes()
            && let Ok(scrubbed) = HeaderValue::from_bytes(&bytes)
        {
            *value = scrubbed;
        }
    }
    let bodyless = *method == Method::HEAD
        || parts.status.is_informational()
        || parts.status == StatusCode::NO_CONTENT
        || parts.status == StatusCode::NOT_MODIFIED;
    if bodyless {
        return Response::from_parts(parts, body.map_err(|e| Box::new(e) as BoxError).boxed());
    }
    // A compressed body cannot be scrubbed: the proxy asked for `identity`, and an upstream
    // that answers otherwise is refused rather than trusted not to echo a value.
    let encoded = parts
        .headers
        .get_all(header::CONTENT_ENCODING)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .any(|token| {
            !token.trim_ascii().is_empty() && !token.trim_ascii().eq_ignore_ascii_case(b"identity")
        });
    if encoded {
        return text(
            StatusCode::BAD_GATEWAY,
            "envx proxy: the upstream sent a compressed body (Content-Encoding), which envx cannot scrub\n",
        );
    }
    // A scrubbed body can be longer or shorter than the original.
    parts.headers.remove(header::CONTENT_LENGTH);
    let (body, _) = pump(shared.clone(), Direction::Response, body);
    Response::from_parts(parts, body)
}
